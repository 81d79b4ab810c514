"""`ppe-tech check`: the pre-exam check of the station (run, list, baseline)."""

from __future__ import annotations

import json
import socket
import sys
from datetime import datetime
from pathlib import Path

import click

from ppe_tech import signatures
from ppe_tech.app import App, atomic_output, emit, journal_action, station_or_person_signer, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.config import example_warnings
from ppe_tech.errors import BadInput, ExitCode
from ppe_tech.messages import _, ngettext
from ppe_tech.options import OUTPUT_FILE, json_option, key_file_option, passphrase_file_option

CHECK_ACTION = "Проверка работоспособности"
BASELINE, BASELINE_SIG = "baseline.json", "baseline.sig"


@click.group(cls=TrGroup)
def check() -> None:
    """The pre-exam check: software, antivirus, integrity, printers, network, cameras.

    \b
      ppe-tech check list
      ppe-tech check run --exam 2026-06-01-math --pdf protocol.pdf
      ppe-tech check run --only antivirus.status --only antivirus.scan
      ppe-tech check run --format junit --out check.xml
      ppe-tech check baseline create      # after installing the exam software

    Every check ends pass, warn, fail, skip or error within its own timeout; the run
    exits 0 when nothing failed (1 with --strict on warnings too). Each run is kept
    under the data dir and recorded in the journal («Проверка работоспособности»).
    """


def checks_dir(app: App) -> Path:
    return app.data_dir / "checks"


def current_exam(app: App, exam_id: str | None):
    """The named exam; else today's exam whose check is due now or next; else the coming exam
    whose technical preparation (readiness_before) has begun; else None."""
    if exam_id:
        return app.config.exam(exam_id)
    now = app.now_local().replace(tzinfo=None)
    today = sorted((e for e in app.config.exams if e.start.date() == now.date()), key=lambda e: e.start)
    for exam in today:
        if now < exam.start + exam.duration:
            return exam
    if today:
        return today[-1]
    coming = sorted((e for e in app.config.exams if e.start - e.readiness_before <= now < e.start),
                    key=lambda e: e.start)
    return coming[0] if coming else None


def stage_of(exam, now_local) -> str:
    """'readiness' before the pre-check's window opens (an hour before it), else 'precheck'."""
    if exam is None:
        return "check"
    from checks.schedule import PRECHECK_EARLY

    opens = exam.start - exam.precheck_before - PRECHECK_EARLY
    return "readiness" if now_local.replace(tzinfo=None) < opens else "precheck"


def profile_of(app: App, name: str | None):
    """The profile named on the command line, else the config's: built-in, or a file (relative
    to the config's folder)."""
    from checks import profile as profiles

    ref = name or app.config.checks.profile
    if ref not in profiles.BUILTIN and not Path(ref).is_absolute() and app.config.source is not None and not name:
        ref = str(Path(app.config.source).parent / ref)
    return profiles.load(ref)


def context(app: App, exam, profile=None):
    from checks import profile as profiles
    from checks.builtin import Context

    data = app.data_dir
    return Context(config=app.config, data_dir=data, recordings_dir=app.recordings_dir, exam=exam, now=app.clock(),
                   baseline_path=checks_dir(app) / BASELINE,
                   check_baseline_signature=lambda raw: signatures.check(app, checks_dir(app) / BASELINE_SIG, raw),
                   minimums=profiles.minimums(profile, app.config.checks.minimums) if profile else None,
                   software_list=profiles.software_list_path(profile, app.config.checks.software_list)
                   if profile else None,
                   file_types=list(profile.file_types) if profile else [])


def _select(only: tuple[str, ...], profile):
    from checks.builtin import BY_ID, CHECKS

    if not only:
        return [BY_ID[i] for i in profile.checks]
    wanted = [x.strip() for item in only for x in item.split(",") if x.strip()]
    if not wanted:
        raise BadInput(_("--only {value!r} names no check: give check ids (see `ppe-tech check list`)").format(
            value=",".join(only)))
    unknown = [x for x in wanted if x not in BY_ID]
    if unknown:
        raise BadInput(_("unknown check id {ids} (valid: {valid})").format(
            ids=", ".join(repr(u) for u in unknown), valid=", ".join(BY_ID)))
    return [c for c in CHECKS if c.id in wanted]


profile_option = click.option("--profile", "profile_name", metavar="NAME|FILE",
                              help=_("The check profile: station, kege, or a region's profile file "
                                     "[default: [checks] profile]."))


@check.command("list")
@profile_option
@json_option
@click.pass_obj
def list_checks(app: App, profile_name: str | None, as_json: bool) -> int:
    """Every built-in check with its id (for --only) and title; with --profile, that profile's
    checks (* marks the required ones: a skip of one means the station is not ready)."""
    from checks.builtin import BY_ID, CHECKS

    profile = profile_of(app, profile_name) if profile_name else None
    ctx = context(app, None, profile)
    default = app.config.checks.timeout.total_seconds()
    from ppe_tech.messages import language

    chosen = [BY_ID[i] for i in profile.checks] if profile else CHECKS
    rows = [{"id": c.id, "title": c.title_ru if language() == "ru" else c.title, "title_ru": c.title_ru,
             "timeout_s": c.timeout(ctx) if c.timeout else default,
             **({"required": c.id in profile.required} if profile else {})} for c in chosen]

    def human() -> None:
        width = max(len(r["id"]) for r in rows)
        for r in rows:
            mark = "* " if r.get("required") else ("  " if profile else "")
            click.echo(f"{mark}{r['id']:<{width}}  {r['title']}  [{r['timeout_s']:g} s]")
    emit(as_json, {"checks": rows}, human)
    return ExitCode.OK


def _style(word: str, status) -> str:
    from checks.report import COLOUR

    return click.style(word, fg=COLOUR[status])


@check.command("run")
@click.option("--exam", "exam_id", metavar="ID", help=_("The exam this check is for [default: today's next exam]."))
@profile_option
@click.option("--stage", type=click.Choice(["readiness", "precheck"]),
              help=_("What the run is for: the technical preparation the day before, or the pre-exam check "
                     "[default: by the time left to the exam]."))
@click.option("--only", multiple=True, metavar="ID", help=_("Run only these checks (repeat, or comma-separate)."))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help=_("Output format on stdout (or in --out)."))
@click.option("--out", type=OUTPUT_FILE, metavar="FILE",
              help=_("Write the report in --format to FILE instead of stdout."))
@click.option("--pdf", type=OUTPUT_FILE, metavar="FILE",
              help=_("Also print the «Протокол проверки рабочей станции ППЭ» to this PDF."))
@click.option("--strict", is_flag=True, help=_("Warnings fail the run too (exit 1)."))
@click.option("--verbose", "-v", is_flag=True, help=_("Show every check's details, not only the failures'."))
@click.option("--key", "key_ref", metavar="KEYID",
              help=_("Who ran the check: signs the journal entry [default: the station's key]."))
@key_file_option
@click.option("--no-journal", is_flag=True, help=_("Do not record this run in the journal."))
@passphrase_file_option
@json_option
@click.pass_obj
def run(app: App, exam_id: str | None, profile_name: str | None, stage: str | None, only: tuple[str, ...], fmt: str,
        out: Path | None, pdf: Path | None, strict: bool, verbose: bool, key_ref: str | None, no_journal: bool,
        passphrase_file: Path | None, as_json: bool) -> int:
    """Run the checks of the profile in parallel, each within its timeout, and report.

    Exit 0 when every check passed or was skipped (warnings allowed unless --strict),
    1 when any check failed or could not run (error), or a check the profile requires
    was skipped. Only a full run of the profile (no --only) is the station's readiness
    check or pre-check. The report is also kept under <data dir>/checks/reports/.
    """
    from checks import report
    from checks.model import Status, overall
    from checks.runner import run_checks

    if as_json:
        fmt = "json"
    profile = profile_of(app, profile_name)
    chosen = _select(only, profile)
    exam = current_exam(app, exam_id)
    if not app.config_found():
        click.echo(_("Warning: no configuration found (looked for {where}): checking with the defaults, "
                     "without this exam point's cameras, exams and software").format(
            where=", ".join(str(p) for p in app.config_candidates())), err=True)
    for line in example_warnings(app.config):
        click.echo(line, err=True)
    stage = stage or stage_of(exam, app.now_local())
    ctx = context(app, exam, profile)
    signer = None
    if key_ref or app.key_file:  # unlock before the checks run: a wrong passphrase is bad input, found at once
        signer = station_or_person_signer(app, key_ref, passphrase_file)
    started = app.clock()
    if sys.stderr.isatty() and fmt == "text" and not out:
        click.echo(ngettext("Running {n} check…", "Running {n} checks…", len(chosen)).format(n=len(chosen)), err=True)
    results = run_checks(chosen, ctx, app.config.checks.timeout.total_seconds())
    finished = app.clock()
    verdict = overall(results)
    host = socket.gethostname()
    full = {c.id for c in chosen} == set(profile.checks)
    required_skipped = [r.id for r in results if r.id in profile.required and r.status == Status.SKIP]
    ready = full and not required_skipped and (verdict == Status.PASS or (verdict == Status.WARN and not strict))
    meta = {"started": started.astimezone(app.tz).isoformat(timespec="seconds"), "host": host,
            "exam": exam.id if exam else None, "strict": strict,
            "profile": {"name": profile.name, "title": profile.title}, "stage": stage, "full": full,
            "ready": ready, "required_skipped": required_skipped,
            "ppe": {"region": app.config.ppe.region, "code": app.config.ppe.code}}
    if signer is None and not no_journal:
        signer = station_or_person_signer(app, None, None)
    meta["by"] = {"key_id": signer[0].key_id, "name": signer[0].name, "position": signer[0].position} \
        if signer else None
    number = None
    if not no_journal:
        number = journal_action(app, CHECK_ACTION, app.config.checks.room, None, None, start=started, signer=signer,
                                end=finished)
    meta["journal_entry"] = number
    doc = report.as_json(results, meta)
    saved = _keep(app, doc, started, exam)
    if pdf:
        pdf = free_name(pdf)
        _protocol(app, pdf, results, exam, started, host, signer, number, profile, meta)
        click.echo(_("Protocol: {path}").format(path=pdf), err=True)
    if fmt == "json":
        payload = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif fmt == "junit":
        payload = report.junit(results, f"ppe-tech check {exam.id if exam else ''}".strip(), meta["started"], host)
    else:
        style = _style if (out is None and sys.stdout.isatty()) else None
        lines = report.text_lines(results, style=style, verbose=verbose)
        if required_skipped:
            lines.append(_("NOT READY: required checks were skipped: {ids}").format(ids=", ".join(required_skipped)))
        elif not full:
            lines.append(_("A partial run (--only): it is not the station's readiness check or pre-check."))
        elif ready:
            lines.append(_("READY: the whole profile «{title}» passed.").format(title=profile.title))
        lines.append(_("Report: {path}").format(path=saved) + (_("; journal entry {n}").format(n=number)
                                                              if number else ""))
        payload = ("\n".join(lines) + "\n").encode("utf-8")
    if out:
        write_output(out, payload)
    else:
        click.echo(payload.decode("utf-8"), nl=False)
    bad = verdict in (Status.FAIL, Status.ERROR) or bool(required_skipped) or (strict and verdict == Status.WARN)
    return ExitCode.NEGATIVE if bad else ExitCode.OK


def free_name(path: Path) -> Path:
    """`path`, or when a file is there already (an earlier protocol, perhaps a failed one that
    must stay), the first free `name-2.pdf`, `name-3.pdf`, … beside it: a rerun never replaces it."""
    if not (path.exists() or path.is_symlink()):
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not (candidate.exists() or candidate.is_symlink()):
            return candidate
        n += 1


def kept_reports(app: App) -> list[dict]:
    """The reports of earlier runs, oldest first: {"started", "status", "exam", "path", "full",
    "stage", "ready", "profile"}. Only a `full` run (the whole profile) counts as a readiness
    check or a pre-check; reports older than profiles (no "full") do not."""
    out = []
    for path in sorted((checks_dir(app) / "reports").glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            out.append({"started": doc["started"], "status": doc["status"], "exam": doc.get("exam"),
                        "path": str(path), "full": bool(doc.get("full")), "stage": doc.get("stage"),
                        "ready": bool(doc.get("ready")), "profile": (doc.get("profile") or {}).get("name")})
        except (OSError, ValueError, KeyError):
            continue
    return sorted(out, key=lambda r: r["started"])


def _keep(app: App, doc: dict, started: datetime, exam) -> Path:
    folder = checks_dir(app) / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{started.astimezone(app.tz):%Y%m%d-%H%M%S}" + (f"_{exam.id}" if exam else "") + ".json"
    path = folder / name
    write_output(path, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return path


STAGES_RU = {"readiness": "Техническая подготовка (накануне экзамена)", "precheck": "Проверка в день экзамена",
             "check": "Проверка станции"}


def verdict_ru(results, meta: dict, titles: dict[str, str]) -> str:
    """«ГОТОВ» only when the whole profile ran and nothing required failed or was skipped."""
    from checks.model import Status, overall

    verdict = overall(results)
    if verdict in (Status.FAIL, Status.ERROR):
        bad = [titles.get(r.id, r.title) for r in results if r.status in (Status.FAIL, Status.ERROR)]
        return "НЕ ГОТОВ: не пройдены проверки: " + "; ".join(bad) + " (устраните замечания и повторите проверку)"
    if meta["required_skipped"]:
        return ("НЕ ГОТОВ: пропущены обязательные проверки: " + "; ".join(titles.get(i, i) for i in meta["required_skipped"])
                + " (настройте их и повторите проверку)")
    if not meta["full"]:
        return "ГОТОВНОСТЬ НЕ ПОДТВЕРЖДЕНА: выполнены не все проверки профиля (частичная проверка)"
    if verdict == Status.WARN and meta["strict"]:
        return "НЕ ГОТОВ: есть предупреждения, а проверка строгая"
    if verdict == Status.WARN:
        return "ГОТОВ (есть предупреждения, см. таблицу)"
    return "ГОТОВ (все проверки пройдены)"


def _protocol(app: App, pdf: Path, results, exam, started: datetime, host: str, signer, number, profile,
              meta: dict) -> None:
    from checks.report import RUSSIAN
    from checks.builtin import BY_ID
    from journal import signing
    from templates import check_protocol as cp

    ppe = app.config.ppe
    titles = {r.id: BY_ID[r.id].title_ru if r.id in BY_ID else r.title for r in results}
    rows = [cp.Row(titles[r.id] + (" *" if r.id in profile.required else ""), RUSSIAN[r.status],
                   r.message_ru + ("".join(f"\n{d}" for d in r.details_ru[:8])
                                   if r.status.value in ("fail", "error") else ""),
                   f"{r.duration_ms / 1000:.1f}") for r in results]
    who = f"{signer[0].name}, {signer[0].position}".strip(", ") if signer else "— (ключ не указан)"
    fingerprint = signing.fingerprint(signer[1].algorithm, signer[1].public_key) if signer else "—"
    exam_text = f"{exam.subject or exam.id}, {exam.start:%d.%m.%Y %H:%M}" if exam else "—"
    protocol = cp.Protocol(
        station=profile.title, stage=STAGES_RU[meta["stage"]],
        region=f"{ppe.region} {ppe.region_name}".strip() or "—", ppe=f"{ppe.code} {ppe.name}".strip() or "—",
        exam=exam_text, started=f"{started.astimezone(app.tz):%d.%m.%Y %H:%M}", host=host, who=who,
        fingerprint=fingerprint, journal_entry=f"№ {number} «{CHECK_ACTION}»" if number else "не сделана",
        verdict=verdict_ru(results, meta, titles), rows=rows, notes=[])
    with atomic_output(pdf) as tmp:
        cp.render(protocol, tmp)


@check.group("baseline")
def baseline() -> None:
    """The integrity baseline of the exam software folders (checks.exam_software)."""


@baseline.command("create")
@click.option("--key", "key_ref", metavar="KEYID", help=_("Who signs the baseline [default: the station's key]."))
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def baseline_create(app: App, key_ref: str | None, passphrase_file: Path | None, as_json: bool) -> int:
    """Record every file's size and SHA-256 in the exam software folders, signed.

    Run it after installing or updating the exam software; `check run` then lists every
    file added, removed or changed since.
    """
    from checks import integrity

    folders = app.config.checks.exam_software
    if not folders:
        raise BadInput(_("{file}: checks.exam_software: no folders configured").format(
            file=app.config.source or "ppe-tech.toml"))
    missing = [f for f in folders if not Path(f).is_dir()]
    if missing:
        raise BadInput(_("checks.exam_software: {folders}: not a folder").format(folders=", ".join(missing)))
    signer = station_or_person_signer(app, key_ref, passphrase_file)
    files, unreadable = integrity.walk(folders)
    doc = integrity.document(folders, files, app.now_local().isoformat(timespec="seconds"))
    raw = (json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
    folder = checks_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    write_output(folder / BASELINE, raw)
    if signer:
        write_output(folder / BASELINE_SIG, signatures.signature_doc(signer[0], signer[1], raw))
    else:
        (folder / BASELINE_SIG).unlink(missing_ok=True)
    result = {"path": str(folder / BASELINE), "files": len(files), "bytes": sum(f.get("size", 0) for f in files.values()),
              "signed_by": signer[0].key_id if signer else None, "unreadable": unreadable}

    def human() -> None:
        click.echo(ngettext("Baseline of {n} file ({mib:.1f} MiB) in {path}{signed}.",
                            "Baseline of {n} files ({mib:.1f} MiB) in {path}{signed}.", len(files)).format(
            n=len(files), mib=result["bytes"] / 2**20, path=result["path"],
            signed=_(", signed by {k}").format(k=signer[0].key_id) if signer else _(", NOT signed (no station key)")))
        for path in unreadable:
            click.echo(_("UNREADABLE: {path}").format(path=path), err=True)
    emit(as_json, result, human)
    return ExitCode.OK if not unreadable else ExitCode.NEGATIVE


@baseline.command("verify")
@json_option
@click.pass_obj
def baseline_verify(app: App, as_json: bool) -> int:
    """Compare the exam software folders with the baseline: exit 1 listing every difference."""
    from checks.builtin import integrity_baseline
    from checks.model import Commands, Status

    outcome = integrity_baseline(context(app, None), Commands())
    message = str(outcome.message)
    result = {"status": outcome.status.value, "message": message, **outcome.data}

    def human() -> None:
        click.echo(message)
        for line in outcome.details:
            click.echo(f"  {line}")
    emit(as_json, result, human)
    return ExitCode.OK if outcome.status in (Status.PASS, Status.SKIP) else ExitCode.NEGATIVE



@check.command("watch")
@click.option("--exam", "exam_id", metavar="ID", help=_("Watch until this exam's end [default: today's exam]."))
@click.option("--for", "duration", metavar="DURATION", help=_("Watch this long (e.g. 4h) instead."))
@click.option("--key", "key_ref", metavar="KEYID", help=_("Who signs the journal entries [default: the station's key]."))
@key_file_option
@click.option("--no-journal", is_flag=True, help=_("Only print the changes (and keep the log)."))
@passphrase_file_option
@click.pass_obj
def watch(app: App, exam_id: str | None, duration: str | None, key_ref: str | None, no_journal: bool,
          passphrase_file: Path | None) -> int:
    """Watch the exam software folders during the exam and record every change.

    Each change (path, kind, time) goes to stderr and to <data dir>/checks/watch.log;
    changes are written to the journal in batches, signed by --key or the station key.
    Stops at the exam's end, after --for, or on Ctrl-C. A watched folder that is deleted
    and created again is watched again.
    """
    import signal
    import time as _time

    from checks.watch import Watcher, journal_text, run_until
    from ppe_tech.timeutil import parse_duration

    folders = app.config.checks.exam_software
    if not folders:
        raise BadInput(_("{file}: checks.exam_software: no folders configured").format(
            file=app.config.source or "ppe-tech.toml"))
    missing = [f for f in folders if not Path(f).is_dir()]
    if len(missing) == len(folders):
        raise BadInput(_("{file}: checks.exam_software: no such folder: {folders} (is the exam software installed "
                         "there?)").format(file=app.config.source or "ppe-tech.toml", folders=", ".join(missing)))
    for folder in missing:
        click.echo(_("Warning: {folder} does not exist; it is watched from the moment it appears.").format(
            folder=folder), err=True)
    deadline, until_text = None, _("Ctrl-C")
    if duration:
        try:
            seconds = parse_duration(duration).total_seconds()
        except ValueError as exc:
            raise BadInput(_("--for {value!r}: {error}").format(value=duration, error=exc)) from None
        deadline = _time.monotonic() + seconds
        until_text = _("{s:g} s").format(s=seconds)
    else:
        exam = current_exam(app, exam_id)
        if exam is not None:
            end = (exam.start + exam.duration).replace(tzinfo=app.tz)
            left = (end - app.clock()).total_seconds()
            if left <= 0:
                raise BadInput(_("the exam {id} ended at {end:%H:%M}; give --for to watch anyway").format(
                    id=exam.id, end=end))
            deadline = _time.monotonic() + left
            until_text = _("the end of {id} at {end:%H:%M}").format(id=exam.id, end=end)
    signer = None if no_journal else station_or_person_signer(app, key_ref, passphrase_file)
    if signer is None and not no_journal:
        click.echo(_("Warning: no station key and no --key: changes are printed and logged, not journaled."), err=True)
    log_path = checks_dir(app) / "watch.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    counted = [0]

    def on_batch(batch) -> None:
        counted[0] += len(batch)
        with open(log_path, "a", encoding="utf-8") as log:
            for change in batch:
                log.write(json.dumps(change.as_json(), ensure_ascii=False) + "\n")
                click.echo(f"{change.at.astimezone(app.tz):%H:%M:%S} {change.kind:<8} {change.path}"
                           + (f" -> {change.dest}" if change.dest else ""), err=True)
        if signer is not None:
            now = app.now_local()
            with app.open_journal() as journal:
                journal.add(date=now.date().isoformat(), room=app.config.checks.room, start=now.strftime("%H:%M"),
                            end=None, action=journal_text(batch)[:500], by=signer[0].key_id, signer=signer[1])

    def stop(_signum, _frame) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, stop) if hasattr(signal, "SIGTERM") else None
    # Windows: Ctrl-Break too (Ctrl-C is KeyboardInterrupt already)
    previous_break = signal.signal(signal.SIGBREAK, stop) if hasattr(signal, "SIGBREAK") else None
    watcher = Watcher(folders, on_batch, clock=app.clock)
    click.echo(_("Watching {folders} until {until}.").format(folders=", ".join(folders), until=until_text), err=True)
    try:
        run_until(watcher, deadline)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if previous_break is not None:
            signal.signal(signal.SIGBREAK, previous_break)
    click.echo(_("Stopped: {n} changes recorded ({log}).").format(n=counted[0], log=log_path), err=True)
    return ExitCode.OK
