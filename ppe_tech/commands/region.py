"""`ppe-tech region`: the regional centre's database of every ППЭ's journal (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import click

from ppe_tech.app import App, atomic_output, emit
from ppe_tech.clicktr import TrGroup
from ppe_tech.commands.journal import late_progress, region_url
from ppe_tech.errors import BadInput, ExitCode
from ppe_tech.messages import _, language_scope
from ppe_tech.options import OUTPUT_FILE, json_option


@click.group(cls=TrGroup)
def region() -> None:
    """The regional centre (РЦОИ): every ППЭ's journal in one PostgreSQL database.

    \b
    Once, by the database's administrator:
      ppe-tech region init --db postgresql://admin@rcoi.example/journals --grant ppe_0123=77/0123
    At each ППЭ, after the exam day (or on a schedule):
      ppe-tech journal push --to postgresql://ppe_0123@rcoi.example/journals
    The commission:
      ppe-tech region verify --db postgresql://gek@rcoi.example/journals --region 77 --pdf svodka.pdf
    """


@region.command("init")
@click.option("--db", "url", metavar="URL", help=_("The region's database, as its owner or an administrator "
                                                    "[default: [region] db in the config]."))
@click.option("--grant", "writers", multiple=True, metavar="ROLE=REGION/PPE",
              help=_("A ППЭ's login role and the one chain it may push (SELECT and INSERT only), e.g. "
                     "ppe_0123=77/0123; ROLE alone may push any ППЭ's. Repeatable."))
@click.option("--grant-read", "readers", multiple=True, metavar="ROLE",
              help=_("A login role that may only read (the commission). Repeatable."))
@json_option
@click.pass_obj
def init(app: App, url: str | None, writers: tuple[str, ...], readers: tuple[str, ...], as_json: bool) -> int:
    """Create the schema, its append-only triggers and the roles; safe to run again.

    The roles ppe_tech_writer (SELECT, INSERT) and ppe_tech_reader (SELECT) get no
    UPDATE or DELETE; the triggers refuse those for everyone and accept a record only
    if it extends its ППЭ's chain, a checkpoint only if it extends the previous one.
    Each ППЭ's role may write only its own chain.
    """
    from journal import pgstore
    from ppe_tech.secrets import mask_url
    url = region_url(app, url, "--db")
    result = pgstore.init(url, writers=list(writers), readers=list(readers))

    def human() -> None:
        click.echo((_("Created the ppe-tech schema in {url}.") if result["created"]
                    else _("The ppe-tech schema in {url} is up to date.")).format(url=mask_url(url)))
        for grant in result["writers"]:
            click.echo(_("{role} may push the journal of ППЭ {ppe} ({group}).").format(
                role=grant["role"], ppe=grant["ppe"] if grant["ppe"] != "any" else _("any"), group=pgstore.WRITER))
        for role in readers:
            click.echo(_("{role} may read journals ({group}).").format(role=role, group=pgstore.READER))
    emit(as_json, {**result, "db": mask_url(url)}, human)
    return 0


@region.command("verify")
@click.option("--db", "url", metavar="URL", help=_("The region's database [default: [region] db in the config]."))
@click.option("--region", "region_code", metavar="CODE", help=_("Only this region's ППЭ (код субъекта, e.g. 77)."))
@click.option("--pdf", "pdf", type=OUTPUT_FILE,
              help=_("Also print the summary («Сводка проверки журналов») to this PDF."))
@click.option("--jobs", type=click.IntRange(min=1), metavar="N", help=_("Processes sharing the work [default: one per CPU]."))
@json_option
@click.pass_obj
def verify(app: App, url: str | None, region_code: str | None, pdf: Path | None, jobs: int | None,
           as_json: bool) -> int:
    """Verify every ППЭ's journal in the region's database, as `journal verify` does.

    Per ППЭ: entries, the share confirmed, the last checkpoint, problems. Exit 0 when
    every ППЭ is intact, 1 when any fails (or none is found).
    """
    from journal import region
    from ppe_tech.secrets import mask_url
    url = region_url(app, url, "--db")
    if region_code is not None and not (region_code.isdigit() and len(region_code) == 2):
        raise BadInput(_("--region {code}: expected the two digits of a region code, e.g. 77").format(code=region_code))
    if pdf is not None and pdf.suffix.lower() != ".pdf":
        raise BadInput(_("--pdf {out}: expected a .pdf file name").format(out=pdf))
    with late_progress(_("Verifying")) as (begin, step):
        reports = region.verify(url, region=region_code, jobs=jobs, progress=step, total=begin)
    failing = [r for r in reports if not r.ok]
    ok = bool(reports) and not failing
    if pdf is not None:
        from templates import region_report
        printed = reports
        if failing:  # the printout names the problems in Russian, whatever the terminal's language
            with language_scope("ru"):
                again = {(r.region, r.ppe): r for r in region.verify(url, only=[(r.region, r.ppe) for r in failing])}
            printed = [again.get((r.region, r.ppe), r) for r in reports]
        with atomic_output(pdf) as tmp:
            region_report.render(region_report.build(printed, region_code, app.clock(), app.tz), tmp)

    def human() -> None:
        if not reports:
            click.echo(_("No journals in {url}{which}.").format(
                url=mask_url(url), which=f" ({_('region')} {region_code})" if region_code else ""))
            return
        for r in reports:
            last = r.checkpoint
            mark = (_("checkpoint of {ts} (records: {n})").format(ts=region_report_time(last["ts"], app.tz), n=last["records"])
                    if last else _("no checkpoint"))
            state = _("intact") if r.ok else _("FAILS")
            click.echo(f"{r.region}/{r.ppe}  {state:<7} " + _("entries: {e}, confirmed: {c}%, {mark}").format(
                e=r.entries, c=round(100 * r.confirmed_share), mark=mark))
            for p in r.problems:
                where = _("entry {n}").format(n=p.first_bad) if p.first_bad else _("journal")
                click.echo("    " + _("TAMPERING FOUND at {where}: {reason}").format(where=where, reason=p.message))
        click.echo(_("{n} ППЭ: {good} intact, {bad} failing.").format(n=len(reports), good=len(reports) - len(failing),
                                                                     bad=len(failing)))
        if pdf is not None:
            click.echo(_("Summary printed to {out}.").format(out=pdf))
    emit(as_json, {"ok": ok, "db": mask_url(url), "region": region_code, "ppe": [r.as_json() for r in reports],
                   "failing": len(failing)}, human)
    return ExitCode.OK if ok else ExitCode.NEGATIVE


def region_report_time(ts: str | None, tz) -> str:
    from journal import printing
    return printing.local(ts, tz) if ts else "—"
