"""`ppe-tech exam`: the day's plan and one screen of status."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import click

from ppe_tech.app import App, emit
from ppe_tech.commands.check import kept_reports
from ppe_tech.commands.journal import pushes_made
from ppe_tech.clicktr import TrGroup
from ppe_tech.config import example_values, example_warnings
from ppe_tech.errors import BadInput, ExitCode
from checks.report import status_word
from ppe_tech.messages import _, ngettext
from ppe_tech.options import json_option

MARK = {"done": "✓", "next": "→", "later": " ", "missed": "✗", "late": "!"}


@click.group(cls=TrGroup)
def exam() -> None:
    """The exam day: what is done, what is next, and whether everything is in order.

    \b
      ppe-tech exam plan              # today's timeline, from the config and what was done
      ppe-tech exam status            # cameras, last check, journal, disk, archive
    """


def _chosen(app: App, exam_id: str | None):
    from ppe_tech.day import choose_exam

    app.require_config()
    if exam_id:
        return app.config.exam(exam_id)
    chosen = choose_exam(app.config.exams, app.now_local())
    if chosen is None:
        raise BadInput(_("{file}: no [[exams]] configured").format(file=app.config.source or "ppe-tech.toml"))
    return chosen


def _archives(app: App) -> list[dict]:
    from ppe_tech.commands.archive import ARCHIVES

    try:
        return json.loads((app.recorder_dir / ARCHIVES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _journal(app: App) -> tuple[list[dict], dict]:
    """Entries (as `journal list --json`) and {"ok", "entries", "unconfirmed", "problem"}."""
    if not app.has_journal():
        return [], {"ok": None, "entries": 0, "unconfirmed": 0, "problem": _("no journal yet")}
    with app.open_journal(readonly=True) as journal:
        replay, problem = journal.verify()
    state = replay.state
    entries = [e.as_json(state.keys) for e in state.entries]
    return entries, {"ok": problem is None, "entries": len(entries),
                     "unconfirmed": sum(1 for e in entries if not e["confirmed_by"]),
                     "problem": problem.message if problem else None}


def _recording(app: App) -> tuple[bool, list[dict]]:
    from video import recorder

    state = recorder.read_state(app.recorder_dir) or {}
    running = recorder.alive(state.get("pid"))
    cams = []
    for cid, cam in (state.get("cameras") or {}).items():
        cams.append({"id": cid, "recording": bool(running and cam.get("recording")),
                     "last_segment_age_s": cam.get("last_segment_age_s"), "restarts": cam.get("restarts", 0)})
    return running, cams


def offline_rooms(app: App) -> list[str]:
    """The rooms whose cameras are not broadcast online, as the journal names them."""
    from video.archive_select import for_portal

    return list(dict.fromkeys(c.room or c.id for c in app.config.cameras
                              if c.location == "auditorium" and for_portal(c)))


@exam.command("plan")
@click.option("--exam", "exam_id", metavar="ID", help=_("The exam [default: today's, else the next]."))
@json_option
@click.pass_obj
def plan(app: App, exam_id: str | None, as_json: bool) -> int:
    """The day's timeline for this ППЭ: pre-check, recording, start, end, archive, portal deadline.

    Each step is marked done (✓), next (→), missed (✗) or needing attention (!), read from
    the check reports, the journal, the recorder and the archives.
    """
    from ppe_tech.day import Facts, timeline

    chosen = _chosen(app, exam_id)
    entries, _health = _journal(app)
    running, _cams = _recording(app)
    facts = Facts(checks=kept_reports(app), journal=entries, recording=running, archives=_archives(app),
                  region=bool(app.config.region.db), pushes=pushes_made(app), offline_rooms=offline_rooms(app))
    steps = timeline(chosen, app.tz, app.now_local(), facts)
    clocks = _clocks(app)
    result = {"exam": {"id": chosen.id, "subject": chosen.subject, "start": chosen.start.isoformat()},
              "now": app.now_local().isoformat(timespec="minutes"), "steps": [s.as_json() for s in steps],
              "camera_clocks": clocks}

    def human() -> None:
        click.echo(f"{chosen.subject or chosen.id} — {chosen.start:%d.%m.%Y %H:%M} ({chosen.id})")
        for s in steps:
            when = s.at.strftime("%H:%M") if s.at.date() == chosen.start.date() else s.at.strftime("%d.%m %H:%M")
            line = f" {MARK[s.state]} {when:>11}  {s.title}" + (f"  ({s.note})" if s.note else "")
            click.echo(click.style(line, bold=True) if s.state == "next" else line)
        if clocks and clocks["problem"]:
            click.secho(" ! " + clocks["problem"], bold=True)
    emit(as_json, result, human)
    return ExitCode.NEGATIVE if any(s.state in ("missed", "late") for s in steps) else ExitCode.OK


def _clocks(app: App) -> dict | None:
    """The newest reading of the cameras' clocks, with a sentence when some are off."""
    from ppe_tech.commands.camera_control import clock_reading

    reading = clock_reading(app)
    if reading is None:
        return None
    at = datetime.fromisoformat(reading["at"]).astimezone(app.tz)
    problem = None
    if reading["off"] or reading["unreachable"]:
        parts = ([_("off: {ids}").format(ids=", ".join(reading["off"]))] if reading["off"] else []) + (
            [_("no answer: {ids}").format(ids=", ".join(reading["unreachable"]))] if reading["unreachable"] else [])
        problem = _("camera clocks ({by}, {at:%H:%M}): {what}; `ppe-tech cameras clock --set`").format(
            by=reading["by"], at=at, what="; ".join(parts))
    return {**reading, "problem": problem}


@exam.command("status")
@click.option("--exam", "exam_id", metavar="ID", help=_("The exam [default: today's, else the next]."))
@json_option
@click.pass_obj
def status(app: App, exam_id: str | None, as_json: bool) -> int:
    """One screen: cameras recording, the last check's verdict, the journal, disk, the archive.

    Exit 1 when something needs attention: a camera not recording while the others do,
    the last check failed, the journal fails verification, the disk will not hold the
    exam, or the archive of a finished exam is missing.
    """
    from checks.builtin import Context
    from checks.system import assumed_text, recording_need

    chosen = _chosen(app, exam_id) if app.require_config().exams else None
    problems: list[str] = []
    running, cams = _recording(app)
    stale = [c["id"] for c in cams if running and not c["recording"]]
    if stale:
        problems.append(_("not recording: {ids}").format(ids=", ".join(stale)))
    reports = [r for r in kept_reports(app) if chosen is None or r["exam"] in (chosen.id, None)]
    last = reports[-1] if reports else None
    if last and last["status"] in ("fail", "error"):
        problems.append(_("the last check failed ({when})").format(when=last["started"][11:16]))
    entries, journal = _journal(app)
    if journal["ok"] is False:
        problems.append(_("the journal fails verification: {p}").format(p=journal["problem"]))
    where = app.recordings_dir
    probe = where if where.exists() else Path(app.data_dir if Path(app.data_dir).exists() else ".")
    free = shutil.disk_usage(probe).free
    estimate = recording_need(Context(config=app.config, data_dir=app.data_dir, recordings_dir=where,
                                      exam=chosen, now=app.clock()))
    need = estimate.bytes
    if free < need:
        problems.append(_("disk: {free:.1f} GiB free, the exam needs {need:.1f} GiB").format(
            free=free / 2**30, need=need / 2**30))
    clocks = _clocks(app)
    if clocks and clocks["problem"]:
        problems.append(clocks["problem"])
    archived = [a for a in _archives(app) if chosen is not None and a.get("exam") == chosen.id
                and not a.get("fragment")]
    pushes = pushes_made(app)
    over = chosen is not None and app.now_local().replace(tzinfo=None) > chosen.start + chosen.duration
    if over and not archived and chosen is not None:
        problems.append(_("the exam is over and its recordings are not archived"))
    result = {"exam": chosen.id if chosen else None,
              "recording": {"running": running, "cameras": cams},
              "last_check": last, "journal": journal,
              "disk": {"free": free, "need": need, "path": str(where), "estimate": estimate.as_json()},
              "archive": archived[-1] if archived else None, "region": pushes[-1] if pushes else None,
              "camera_clocks": clocks, "example_settings": [key for key, _value in example_values(app.config)],
              "problems": problems, "ok": not problems}

    def human() -> None:
        rec = ngettext("recording, {n} camera", "recording, {n} cameras", len(cams)).format(n=len(cams)) if running else _("not recording")
        click.echo(_("Cameras:  {rec}").format(rec=rec) + (f" — {', '.join(stale)} " + _("stalled") if stale else ""))
        click.echo(_("Check:    {v}").format(v=f"{status_word(last['status'])} {last['started'][11:16]}" if last
                                             else _("not run")))
        if journal["ok"] is None:
            click.echo(_("Journal:  none yet"))
        else:
            click.echo(_("Journal:  {state}, {n} entries, {u} awaiting confirmation").format(
                state=_("intact") if journal["ok"] else _("FAILS VERIFICATION"), n=journal["entries"],
                u=journal["unconfirmed"]))
        click.echo(_("Disk:     {free:.1f} GiB free, the exam needs about {need:.1f} GiB ({basis})").format(
            free=free / 2**30, need=need / 2**30, basis=assumed_text(estimate)))
        click.echo(_("Archive:  {a}").format(a=archived[-1]["dir"] if archived else _("not made")))
        if clocks:
            click.echo(_("Clocks:   {state} ({by}, {at})").format(
                state=_("off or silent: {n}").format(n=len(clocks["off"]) + len(clocks["unreachable"]))
                if clocks["problem"] else _("within {s:g} s").format(s=clocks["max_offset_s"] or 0),
                by=clocks["by"], at=datetime.fromisoformat(clocks["at"]).astimezone(app.tz).strftime("%H:%M")))
        if pushes or app.config.region.db:
            last_push = pushes[-1] if pushes else None
            click.echo(_("Region:   {p}").format(p=_("records: {n}, sent {when}").format(
                n=last_push["held"], when=datetime.fromisoformat(last_push["at"]).astimezone(app.tz).strftime(
                    "%d.%m %H:%M")) if last_push else _("not sent yet")))
        for problem in problems:
            click.secho(_("ATTENTION: {p}").format(p=problem), fg="red", err=True)
    emit(as_json, result, human)
    for line in example_warnings(app.config):
        click.echo(line, err=True)
    return ExitCode.NEGATIVE if problems else ExitCode.OK


@exam.command("rehearse")
@click.option("--reset", is_flag=True, help=_("Throw the rehearsal's data away (the real data is not touched)."))
@json_option
@click.pass_obj
def rehearse(app: App, reset: bool, as_json: bool) -> int:
    """Try the exam day out without touching the official records.

    \b
    Every command run with the global --rehearsal works in a throwaway data dir beside the
    real one, with the real config and cameras: its own journal (holding the real public
    keys, so everybody signs with their own key), recordings, reports and archive state.
    Printed documents say «РЕПЕТИЦИЯ» on every page. journal push, schedule sync|remove and
    keys create are refused in a rehearsal.
    \b
      ppe-tech exam rehearse                     # where the rehearsal is, and what it holds
      ppe-tech --rehearsal check run --pdf p.pdf # the day, step by step, with --rehearsal
      ppe-tech --rehearsal cameras start
      ppe-tech exam rehearse --reset             # throw it away
    """
    from ppe_tech import rehearsal as rh

    real = app.real_data_dir or app.data_dir
    folder = rh.folder_for(real)
    removed = False
    if reset:
        if folder.exists() and not rh.is_rehearsal_folder(folder):
            raise BadInput(_("{folder} is not a rehearsal folder; nothing removed").format(folder=folder))
        if folder.exists():
            from video import recorder

            if recorder.alive((recorder.read_state(folder / "recorder") or {}).get("pid")):
                raise BadInput(_("the rehearsal is still recording: `ppe-tech --rehearsal cameras stop` first"))
            shutil.rmtree(folder)
            removed = True
    entries = 0
    if not reset and (folder / "journal.sqlite").exists():
        from journal.journal import Journal

        with Journal.open(folder / "journal.sqlite", readonly=True) as journal:
            entries = len(journal.state().entries)
    result = {"dir": str(folder), "exists": folder.exists(), "removed": removed, "journal_entries": entries,
              "real_data_dir": str(real)}

    def human() -> None:
        if removed:
            click.echo(_("Rehearsal removed: {folder}.").format(folder=folder))
            return
        click.echo(_("Rehearsal data: {folder} ({state}); the real data stays in {real}.").format(
            folder=folder, real=real,
            state=_("journal entries: {n}").format(n=entries)
            if folder.exists() else _("not started")))
        click.echo(_("Run the day with `ppe-tech --rehearsal COMMAND …`; throw it away with "
                     "`ppe-tech exam rehearse --reset`."))
    emit(as_json, result, human)
    return ExitCode.OK
