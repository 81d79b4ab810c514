"""`ppe-tech journal`: the access journal of the ПАК (the video-surveillance complex)."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path

import click

from ppe_tech.app import App, atomic_output, emit, find_key, load_signer, progress, read_input, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.errors import BadInput, ExitCode
from ppe_tech.messages import _, ngettext
from ppe_tech.options import (OUTPUT_FILE, date_option, json_option, key_file_option, key_option, passphrase_file_option,
                               time_option)


@click.group(cls=TrGroup)
def journal() -> None:
    """The signed access journal («Журнал доступа к средствам видеонаблюдения»).

    Every entry is numbered without gaps, chained to the one before by its hash and
    signed by the key of who acted; the responsible person confirms entries
    (column 7). `verify` proves nothing was edited, removed, inserted or reordered.
    """


@journal.command("add")
@click.option("--room", required=True, help=_("Аудитория or place, e.g. \"0101\" or \"Штаб 7777\"."))
@click.option("--action", required=True, help=_("What was done, e.g. \"Начало записи\"."))
@time_option("--start", _("Start of the action, HH:MM [default: now]."))
@time_option("--end", _("End of the action, HH:MM."))
@date_option("--date", _("Date of the action [default: today]."))
@key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def add(app: App, room: str, action: str, start: str | None, end: str | None, date: date | None, key_ref: str,
        passphrase_file: Path | None, as_json: bool) -> int:
    """Append one signed entry; prints its number.

    \b
    Typical actions (the official samples):
      Проверка работоспособности, Начало записи, Корректировка ракурса,
      Извлечение/установка карты памяти, Отключение средства видеозаписи,
      Копирование видеозаписей
    \b
    Example:
      ppe-tech journal add --room 0101 --action "Проверка работоспособности" \\
                           --start 08:00 --end 08:15 --key 1a2b
    """
    now = app.now_local()
    key_file, signer = load_signer(app, key_ref, passphrase_file)  # the prompt comes before the journal is locked
    with app.open_journal() as j:
        appended = j.add(date=(date or now.date()).isoformat(), room=room, start=start or now.strftime("%H:%M"),
                         end=end, action=action, by=key_file.key_id, signer=signer)
    emit(as_json, {"number": appended.number, "record": appended.seq, "recorded_at": appended.ts},
         lambda: click.echo(_("Entry {n} recorded.").format(n=appended.number)))
    return 0


@journal.command("confirm")
@key_option
@key_file_option
@click.option("--upto", type=click.IntRange(min=1), metavar="N", help=_("Confirm entries only up to number N."))
@click.option("--yes", is_flag=True, help=_("Sign without showing the entries and asking (scripts)."))
@passphrase_file_option
@json_option
@click.pass_obj
def confirm(app: App, key_ref: str | None, upto: int | None, yes: bool, passphrase_file: Path | None,
            as_json: bool) -> int:
    """The responsible person signs the entries not yet confirmed (column 7).

    It shows the entries it is about to sign and asks, unless --yes (without a terminal,
    --yes is needed). Entries made by the confirming person themself are refused: column 7
    is another person's confirmation.
    """
    from journal import custody

    key = find_key(app, key_ref)
    with app.open_journal(readonly=True) as j:
        state = j.state()
        pending = [e.as_json(state.keys) for e in state.entries]
    pending = [e for e in pending if not e["confirmed_by"] and (upto is None or e["number"] <= upto)]
    own = [e["number"] for e in pending if custody.same_person(e["actor"], {"key_id": key.key_id, "name": key.name})]
    if own:
        raise BadInput(_("entries {numbers} were made by {name} (key {key}) themself; column 7 is another "
                         "person's confirmation: the head of the exam point confirms them with their own key").format(
            numbers=", ".join(map(str, own)), name=key.name, key=key.key_id))
    if not yes and pending:
        click.echo(ngettext("About to sign column 7 of {n} entry as {name}, {position} (key {key}):",
                              "About to sign column 7 of {n} entries as {name}, {position} (key {key}):", len(pending)).format(
            n=len(pending), name=key.name, position=key.position, key=key.key_id), err=True)
        for e in pending:
            when = e["start"] + (f"–{e['end']}" if e["end"] else "")
            click.echo(f"  {e['number']:>4}  {e['date']} {when:<11} {e['room']}: {e['action']} — {e['actor']['name']}",
                       err=True)
        if not (sys.stdin is not None and sys.stdin.isatty()):
            raise BadInput(_("journal confirm asks before signing; with no terminal to ask, give --yes"))
        if not click.confirm(_("Sign these entries?"), default=False, err=True):
            click.echo(_("Nothing signed."), err=True)
            return ExitCode.NEGATIVE
    key_file, signer = load_signer(app, key_ref, passphrase_file)
    with app.open_journal() as j:
        first, last = j.confirm(by=key_file.key_id, signer=signer, upto=upto)
    emit(as_json, {"from": first, "upto": last, "key_id": key_file.key_id},
         lambda: click.echo(_("Confirmed entries {a}–{b} as {name}.").format(a=first, b=last, name=key_file.name)))
    return 0


@journal.command("list")
@date_option("--from", _("First date to show."))
@date_option("--to", _("Last date to show."))
@json_option
@click.pass_obj
def list_entries(app: App, as_json: bool, **dates) -> int:
    """The entries, as the official form's columns."""
    from journal import printing
    with app.open_journal(readonly=True) as j:
        state = j.state()
    entries = printing.select(state.entries, dates.get("from"), dates.get("to"))
    tz = app.tz

    def human() -> None:
        if not entries:
            click.echo(_("No entries."))
        for e in entries:
            actor = state.keys.get(e.key_id)
            conf = e.confirmation
            confirmer = state.keys.get(conf.key_id) if conf else None
            span = f"{e.start}–{e.end}" if e.end else e.start
            click.echo(f"{e.number:>5}  {printing.ru_date(e.date)}  {span:<11}  {e.room}: {e.action}")
            who = f"{actor.name}, {actor.position}" if actor else e.key_id
            click.echo(f"       {_('by')} {who}  [{printing.local(e.ts, tz)}]")
            click.echo("       " + (_("confirmed by {who}").format(who=f"{confirmer.name}, {confirmer.position}")
                                    if confirmer else _("not confirmed")))
    emit(as_json, {"entries": [e.as_json(state.keys) for e in entries]}, human)
    return 0


@journal.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, path_type=Path),
              help=_("A checkpoint kept off the machine (or the QR text of a printout) to check truncation and rollback against."))
@click.option("--full", is_flag=True, help=_("Check every page of the file and every index (slower), not only the quick check."))
@click.option("--strict", is_flag=True, help=_("Findings (entries confirmed by their own author) fail too (exit 1)."))
@json_option
@click.pass_obj
def verify(app: App, checkpoint_file: Path | None, full: bool, strict: bool, as_json: bool) -> int:
    """Check the file and every record: chain, signatures, keys, numbering, confirmations.

    Exit 0 when intact; 1 naming the first entry that fails and why, or what of the
    file is damaged. An entry whose column 7 was signed by its own author (which earlier
    versions allowed) is a finding: named on stderr and in "findings", exit 0 — the chain
    proves nothing was changed — or 1 with --strict.
    """
    from journal import checkpoint, custody, printing
    from journal.store import JournalDamaged
    witness = checkpoint.parse(read_input(checkpoint_file, _("checkpoint file")), str(checkpoint_file)) \
        if checkpoint_file else None
    try:
        with app.open_journal(readonly=True) as j, progress(j.size(), _("Verifying")) as step:
            replay, problem = j.verify(witness, step, full=full)
    except JournalDamaged as exc:  # so damaged that it does not even open (a truncated file)
        from journal.chain import Problem, Replay

        replay, problem = Replay(), Problem("damaged", None, None, exc.message)
    state = replay.state
    result = {"ok": problem is None, "entries": len(state.entries), "records": len(replay.hashes),
              "confirmed": state.confirmed_upto, "first_bad": None, "reason": None, "problem": None,
              "head": state.head_hash, "journal": state.journal_id,
              "checkpoint": None if witness is None else {"records": witness["records"], "signed": "sig" in witness,
                                                          "by": witness.get("by")}}
    if problem:
        result.update(problem.as_json())
    own = custody.self_confirmed([e.as_json(state.keys) for e in state.entries]) if problem is None else []
    result["findings"] = [{"kind": "self_confirmed", "entries": own, "message": _(
        "entries {numbers}: column 7 was signed by the entry's own author, not by another person; "
        "they are not confirmed").format(numbers=", ".join(map(str, own)))}] if own else []
    for finding in result["findings"]:
        click.echo(_("Finding: {message}").format(message=finding["message"]), err=True)

    def human() -> None:
        if problem is None:
            click.echo(ngettext("Journal intact: {n} entry ({c} confirmed), {r} records, head {h}.",
                                  "Journal intact: {n} entries ({c} confirmed), {r} records, head {h}.", len(state.entries)).format(
                n=len(state.entries), c=state.confirmed_upto, r=len(replay.hashes), h=state.head_hash[:16]))
            if witness is not None:
                click.echo(ngettext("It extends the checkpoint of {ts} ({r} record).",
                                    "It extends the checkpoint of {ts} ({r} records).", witness["records"]).format(
                    ts=printing.local(witness.get("ts") or witness.get("head_ts", ""), app.tz), r=witness["records"]))
            else:
                click.echo(_("Without a checkpoint, removal of the last entries cannot be seen; keep one off this machine."))
        elif problem.code == "damaged":
            click.echo(_("DAMAGED: {reason}").format(reason=problem.message))
        else:
            where = _("entry {n}").format(n=problem.first_bad) if problem.first_bad else _("journal")
            click.echo(_("TAMPERING FOUND at {where}: {reason}").format(where=where, reason=problem.message))
    emit(as_json, result, human)
    if problem is not None or (strict and result["findings"]):
        return ExitCode.NEGATIVE
    return ExitCode.OK


@journal.command("checkpoint")
@key_option
@key_file_option
@click.option("--out", required=True, type=OUTPUT_FILE, help=_("The checkpoint file to write."))
@passphrase_file_option
@json_option
@click.pass_obj
def make_checkpoint(app: App, key_ref: str, out: Path, passphrase_file: Path | None, as_json: bool) -> int:
    """Sign the journal's current size and head hash; keep the file off this machine."""
    from journal import checkpoint
    key_file, signer = load_signer(app, key_ref, passphrase_file)
    with app.open_journal() as j:
        key = j.state().keys.get(key_file.key_id)
        if key is None:
            raise BadInput(_("key {key} is not registered in this journal").format(key=key_file.key_id))
        doc = j.checkpoint(key, signer)
    write_output(out, checkpoint.dumps(doc))
    emit(as_json, doc, lambda: click.echo(_("Checkpoint of {r} records ({e} entries) written to {out}.").format(
        r=doc["records"], e=doc["entries"], out=out)))
    return 0


@journal.command("print")
@click.option("--out", required=True, type=OUTPUT_FILE, help=_("The PDF to write."))
@date_option("--from", _("First date to print."))
@date_option("--to", _("Last date to print."))
@json_option
@click.pass_obj
def print_journal(app: App, out: Path, as_json: bool, **dates) -> int:
    """The journal as the official form: PDF, A4 landscape, in Russian."""
    from journal import printing
    if out.suffix.lower() != ".pdf":
        raise BadInput(_("--out {out}: expected a .pdf file name").format(out=out))
    ppe = app.config.ppe
    with app.open_journal(readonly=True) as j, progress(j.size(), _("Verifying")) as step:
        replay, problem = j.verify(progress=step)
        stored = [json.loads(d) for d in j.store.checkpoints()]
    region = " — ".join(x for x in (ppe.region, ppe.region_name) if x)
    name_address = ", ".join(x for x in (ppe.name, ppe.address) if x)
    if ppe.code and name_address:
        name_address = f"{name_address} (код ППЭ {ppe.code})"
    doc = printing.build_print(replay, problem, tz=app.tz, region=region, ppe_code=ppe.code,
                               name_address=name_address, date_from=dates.get("from"), date_to=dates.get("to"),
                               now=app.clock(), stored_checkpoints=stored)
    with atomic_output(out) as tmp:
        pages = printing.print_pdf(doc, tmp)
    emit(as_json, {"out": str(out), "entries": len(doc.rows), "sheets": pages, "verified": problem is None},
         lambda: click.echo(ngettext("Printed {n} entry on {p} sheets to {out}.", "Printed {n} entries on {p} sheets to {out}.",
                                           len(doc.rows)).format(n=len(doc.rows), p=pages, out=out)))
    if problem is not None:
        click.echo(_("Warning: the journal fails verification; the printout says so on its last page."), err=True)
    return 0


@journal.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), required=True, help=_("json or csv."))
@click.option("--out", type=OUTPUT_FILE, help=_("File to write [default: stdout]."))
@date_option("--from", _("First date to export."))
@date_option("--to", _("Last date to export."))
@click.pass_obj
def export(app: App, fmt: str, out: Path | None, **dates) -> int:
    """Export entries as JSON or CSV (UTF-8; the CSV opens in Excel and LibreOffice)."""
    from journal import printing
    with app.open_journal(readonly=True) as j:
        state = j.state()
    entries = printing.select(state.entries, dates.get("from"), dates.get("to"))
    if fmt == "json":
        data = (json.dumps(printing.export_json(state, entries), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        data = printing.export_csv(state, entries).encode("utf-8-sig")
    if out is None:
        click.echo(data.decode("utf-8-sig"), nl=False)
    else:
        write_output(out, data)
        click.echo(ngettext("Exported {n} entry to {out}.", "Exported {n} entries to {out}.", len(entries)).format(n=len(entries), out=out), err=True)
    return 0


def region_url(app: App, url: str | None, option: str) -> str:
    """`--to`/`--db`, else `[region] db` of the config; checked to be a postgresql:// URL."""
    from journal import pgstore
    from ppe_tech.secrets import passwords_in

    if url and passwords_in(url):
        # this command's own arguments are readable by every local user (ps, /proc/PID/cmdline)
        click.echo(_("Warning: the password in {option} is visible to other users of this computer in the process "
                     "list; give the URL without it and the password in PGPASSWORD or ~/.pgpass, or set [region] db "
                     "in the config (mode 0600)").format(option=option), err=True)
    url = url or app.config.region.db
    if not url:
        raise BadInput(_("{option}: name the region's database (postgresql://user@host/db) or set [region] db "
                         "in the config").format(option=option))
    return pgstore.check_url(url, option)


@contextmanager
def late_progress(label: str):
    """(begin(total), step(n)) for work whose size is known only once it starts."""
    with ExitStack() as stack:
        bar: list = []

        def begin(total: int) -> None:
            bar.append(stack.enter_context(progress(total, label, threshold=5000)))

        def step(n: int) -> None:
            if bar and bar[0] is not None:
                bar[0](n)
        yield begin, step


@journal.command("push")
@click.option("--to", "url", metavar="URL",
              help=_("The region's database, postgresql://user@host/db [default: [region] db in the config]."))
@click.option("--batch", type=click.IntRange(min=1), default=5000, show_default=True,
              help=_("Records per transaction; an interrupted push keeps the batches already sent."))
@json_option
@click.pass_obj
def push(app: App, url: str | None, batch: int, as_json: bool) -> int:
    """Send new entries, confirmations and checkpoints to the regional centre's PostgreSQL.

    Safe to run again: what the region holds is not sent twice, and an interrupted
    push goes on from where it stopped. The journal is verified first; a journal whose
    history differs from the region's copy (rewritten, forked, rolled back) is refused
    with exit 1, naming the first entry that differs.

    \b
    The password: better in PGPASSWORD or ~/.pgpass than in the URL.
    Example:
      ppe-tech journal push --to postgresql://ppe_0123@rcoi.example/journals
    """
    from ppe_tech.secrets import mask_url
    url = region_url(app, url, "--to")
    result = push_now(app, url, batch)

    def human() -> None:
        if result.records or result.checkpoints:
            click.echo(_("ППЭ {region}/{ppe} sent to {url}: records: {r} (entries: {e}, confirmations: {c}), "
                         "checkpoints: {k}; records the region holds: {n}.").format(
                r=result.records, e=result.entries, c=result.confirmations, k=result.checkpoints,
                region=result.region, ppe=result.ppe, url=mask_url(url), n=result.held_after))
        else:
            click.echo(_("Nothing new: the region already holds all {n} records of ППЭ {region}/{ppe}.").format(
                n=result.held_after, region=result.region, ppe=result.ppe))
    emit(as_json, {**result.as_json(), "to": mask_url(url)}, human)
    return 0


def push_now(app: App, url: str, batch: int = 5000):
    """Push this ППЭ's journal to `url` and note it for `exam plan|status`; the PushResult."""
    from journal import region

    app.not_in_rehearsal("journal push")
    from ppe_tech.secrets import mask_url
    with app.open_journal(readonly=True) as j, late_progress(_("Sending")) as (begin, step):
        result = region.push(j, url, batch=batch, progress=step, total=begin)
    _remember_push(app, result, mask_url(url))
    return result


PUSHES = "region-pushes.jsonl"  # under the data dir: one line per push that succeeded, for `exam plan|status`


def _remember_push(app: App, result, to: str) -> None:
    from ppe_tech.timeutil import iso_utc
    line = json.dumps({"at": iso_utc(app.clock()), "journal": result.journal, "held": result.held_after,
                       "sent": result.records, "to": to}, ensure_ascii=False)
    try:
        Path(app.data_dir).mkdir(parents=True, exist_ok=True)
        with open(Path(app.data_dir) / PUSHES, "a", encoding="utf-8") as out:
            out.write(line + "\n")
    except OSError as exc:  # the push itself is done; only the local note of it is missing
        click.echo(_("Warning: cannot note the push in {path}: {error}").format(path=Path(app.data_dir) / PUSHES,
                                                                               error=exc), err=True)


def pushes_made(app: App) -> list[dict]:
    """Every `journal push` that succeeded here, oldest first, as `_remember_push` noted them."""
    try:
        lines = (Path(app.data_dir) / PUSHES).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            item = json.loads(line)
            datetime.fromisoformat(item["at"])
            out.append({"at": item["at"], "held": int(item["held"]), "to": str(item.get("to", ""))})
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by a crash
    return out
