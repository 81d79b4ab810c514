"""Recording: `cameras start|stop|status`, `recorder run`, `recordings list|gaps`."""

from __future__ import annotations

import shutil
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import click

from ppe_tech.app import App, emit, journal_action, station_or_person_signer
from ppe_tech.clicktr import TrGroup
from ppe_tech.commands.cameras import camera_ids, cameras, select
from ppe_tech.errors import BadInput, EnvironmentFailure, ExitCode
from ppe_tech.messages import _, ago_text, mib_text, ngettext, seconds_text
from ppe_tech.options import json_option, passphrase_file_option, key_file_option

START_ACTION = "Начало записи"
STOP_ACTION = "Отключение средства видеозаписи"

journal_key_option = click.option("--key", "key_ref", metavar="KEYID",
                                  help=_("Who signs the journal entry [default: the station's key]."))


def _rooms(chosen) -> str:
    rooms = list(dict.fromkeys(c.room or c.id for c in chosen))
    text = ", ".join(rooms)
    return text if len(text) <= 200 else text[:197] + "…"


def _supervisor(app: App, chosen, interrupted: float | None = None):
    from video.recorder import Supervisor

    rec = app.config.recording
    ppe = app.config.ppe
    metadata = {c.id: {"service_provider": f"ППЭ {ppe.code or '—'} ({ppe.region or '—'})",
                       "service_name": f"{c.id} {c.room}".strip()} for c in chosen}
    return Supervisor([(c.id, c.url) for c in chosen], app.recordings_dir, app.recorder_dir,
                      segment_s=max(1, int(rec.segment.total_seconds())), stall_s=rec.stall_timeout.total_seconds(),
                      timeout_s=rec.timeout.total_seconds(), tz=ppe.timezone, floor_bytes=rec.floor, metadata=metadata,
                      interrupted=interrupted)


def _disk_check(app: App, chosen) -> None:
    """Warn when the recording will not fit: the same estimate as the protocol and `exam status`
    (cameras × measured bitrate × what is left of the recording window)."""
    from checks.system import assumed_text
    from video import estimate

    now = app.clock()
    need = estimate.need(app.recordings_dir, [c.id for c in chosen], app.config.recording.segment.total_seconds(),
                         estimate.exam_for(app.config.exams, app.tz, now), app.tz, now)
    app.recordings_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(app.recordings_dir).free
    if free < need.bytes or free < app.config.recording.floor:
        click.echo(_("WARNING: {free:.1f} GiB free in {dir}; the recording needs about {need:.1f} GiB "
                     "({basis}). Free space or change recording.dir.").format(
            free=free / 2**30, dir=app.recordings_dir, need=need.bytes / 2**30, basis=assumed_text(need)), err=True)


def launch(app: App, chosen, interrupted: str | None = None) -> int:
    """Start the detached supervisor for `chosen` and wait until it records; its pid.
    `interrupted`: when the run it continues was cut (UTC ISO), kept as every camera's outage."""
    from video import recorder

    # -P: the supervisor never imports from the folder it was started in
    argv = [sys.executable, "-P", "-m", "ppe_tech", "--data-dir", str(app.data_dir)]
    if app.config.source is not None:
        argv += ["--config", str(Path(app.config.source).resolve())]
    argv += ["recorder", "run", "--no-journal", *(["--interrupted", interrupted] if interrupted else []),
             *[c.id for c in chosen]]
    log = app.recorder_dir / "supervisor.log"
    pid = recorder.spawn(argv, log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        state = recorder.read_state(app.recorder_dir)
        if state and state.get("pid") == pid and state.get("running"):
            return pid
        if not recorder.alive(pid) and time.monotonic() > deadline - 13:
            break  # gone: give it 2 s first, /proc may not show its command line at once
        time.sleep(0.2)
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] if log.exists() else []
    raise EnvironmentFailure(_("the recorder did not start: {why} (log: {log})").format(
        why=tail[0] if tail else _("no output"), log=log))


def running_pid(app: App) -> int | None:
    from video import recorder

    state = recorder.read_state(app.recorder_dir)
    pid = state.get("pid") if state else None
    return pid if recorder.alive(pid) else None


def begin_recording(app: App, chosen, *, by: str, exam: str | None = None, key_ref: str | None = None,
                    passphrase_file: Path | None = None) -> dict:
    """Start recording `chosen`, remember that it is meant to run, journal «Начало записи».
    The journal key is unlocked first, so nobody is asked for a passphrase once recording runs."""
    from video import intent

    pid = running_pid(app)
    if pid:
        raise BadInput(_("already recording (supervisor pid {pid}); `ppe-tech cameras stop` first").format(pid=pid))
    signer = station_or_person_signer(app, key_ref, passphrase_file)
    _disk_check(app, chosen)
    pid = launch(app, chosen)
    intent.write(app.recorder_dir, intent.Intent(True, [c.id for c in chosen], since=app.clock().isoformat(),
                                                 by=by, exam=exam))
    number = journal_action(app, START_ACTION, _rooms(chosen), key_ref, passphrase_file, signer=signer)
    return {"pid": pid, "cameras": [c.id for c in chosen], "journal_entry": number}


def end_recording(app: App, *, by: str, key_ref: str | None = None, passphrase_file: Path | None = None) -> dict:
    """Stop recording on purpose: the intent says so first (a cut during the stop is not
    resumed), then the supervisor finalises every segment; «Отключение средства видеозаписи»."""
    from video import intent, recorder

    before = recorder.read_state(app.recorder_dir) or {}
    signer = station_or_person_signer(app, key_ref, passphrase_file) if running_pid(app) else None
    meant = intent.read(app.recorder_dir)
    if meant is not None:
        meant.recording, meant.stopped, meant.stopped_by = False, app.clock().isoformat(), by
        intent.write(app.recorder_dir, meant)
    started, began = time.monotonic(), app.clock()
    was_running = recorder.stop(app.recorder_dir, timeout=10)
    elapsed = time.monotonic() - started
    state = recorder.read_state(app.recorder_dir) or before
    ids = list((state.get("cameras") or {}).keys())
    known = {c.id: c for c in app.config.cameras}
    number = None
    if was_running:
        number = journal_action(app, STOP_ACTION, _rooms([known[i] for i in ids if i in known]) or "—",
                                key_ref, passphrase_file, signer=signer, start=began)
    return {"stopped": was_running, "seconds": round(elapsed, 1), "journal_entry": number,
            "cameras": [{"id": i, "bytes": c.get("bytes", 0), "restarts": c.get("restarts", 0)}
                        for i, c in (state.get("cameras") or {}).items()]}


@cameras.command("start")
@camera_ids
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def start(app: App, camera_ids: tuple[str, ...], key_ref: str | None, passphrase_file: Path | None,
          as_json: bool) -> int:
    """Start recording and return at once; a supervisor keeps recording after this command exits.

    Writes «Начало записи» to the journal, signed by --key or the station's key.
    Stop with `ppe-tech cameras stop`; watch with `ppe-tech cameras status`. If the
    station loses power or crashes, `ppe-tech recorder resume` (run at boot by the job
    `schedule sync` installs) starts it again; a deliberate stop is never undone.
    """
    result = begin_recording(app, select(app, camera_ids), by="user", key_ref=key_ref,
                             passphrase_file=passphrase_file)
    emit(as_json, result, lambda: click.echo(ngettext("Recording {n} camera (supervisor pid {pid}); journal entry {entry}.",
                                                      "Recording {n} cameras (supervisor pid {pid}); journal entry {entry}.",
                                                      len(result["cameras"]))
                                             .format(n=len(result["cameras"]), pid=result["pid"],
                                                     entry=result["journal_entry"] or "—")))
    return 0


@cameras.command("stop")
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def stop(app: App, key_ref: str | None, passphrase_file: Path | None, as_json: bool) -> int:
    """Stop recording: every segment finalised and playable; writes «Отключение средства видеозаписи».

    A stop is deliberate: neither `recorder resume` nor `schedule due` starts recording
    again inside the same recording window.
    """
    result = end_recording(app, by="user", key_ref=key_ref, passphrase_file=passphrase_file)

    def human() -> None:
        if not result["stopped"]:
            click.echo(_("Not recording."))
            return
        click.echo(_("Stopped in {s:.1f} s; journal entry {entry}.").format(s=result["seconds"],
                                                                          entry=result["journal_entry"] or "—"))
        for c in result["cameras"]:
            click.echo(f"  {c['id']:<16} {mib_text(c['bytes'], '8.1f')}  {_('restarts')} {c['restarts']}")
    emit(as_json, result, human)
    return 0


def _last_data(cam: dict, updated: datetime | None) -> datetime | None:
    """When a camera's newest data came, from the recorder's state."""
    if cam.get("last_data"):
        return datetime.fromisoformat(cam["last_data"])
    if updated is not None and cam.get("last_segment_age_s") is not None:
        return updated - timedelta(seconds=cam["last_segment_age_s"])
    return None


def _local_time(app: App, moment: datetime, now: datetime) -> str:
    """HH:MM:SS in the ППЭ's zone, with the date when it was not today."""
    local, today = moment.astimezone(app.tz), now.astimezone(app.tz)
    return f"{local:%H:%M:%S}" if local.date() == today.date() else f"{local:%d.%m.%Y %H:%M:%S}"


@cameras.command("status")
@json_option
@click.pass_obj
def status(app: App, as_json: bool) -> int:
    """Per camera: recording or not, newest segment age, bytes, restarts, outages."""
    from video import recorder

    state = recorder.read_state(app.recorder_dir)
    running = bool(state) and recorder.alive(state.get("pid"))
    now = app.clock()
    updated = datetime.fromisoformat(state["updated"]) if state and state.get("updated") else None
    items = []
    for cid, cam in ((state or {}).get("cameras") or {}).items():
        age = cam.get("last_segment_age_s")
        last_data = _last_data(cam, updated)
        if not running and last_data is not None:  # the state was written at the stop: its age is the stop's
            age = round(max(0.0, (now - last_data).total_seconds()), 1)
        items.append({"id": cid, "recording": bool(running and cam.get("recording")),
                      "last_segment_age_s": age, "last_data": last_data.isoformat() if last_data else None,
                      "bytes": cam.get("bytes", 0),
                      "restarts": cam.get("restarts", 0), "outages": cam.get("outages", []),
                      "newest_segment": cam.get("newest_segment")})
    stopped_at = updated if state and not running else None
    result = {"supervisor": {"running": running, "pid": (state or {}).get("pid"), "started": (state or {}).get("started"),
                             "updated": (state or {}).get("updated"),
                             "stopped": stopped_at.isoformat() if stopped_at else None},
              "disk_warning": (state or {}).get("disk_warning") if running else None, "cameras": items}

    def human() -> None:
        if not running and stopped_at is not None:
            click.echo(_("Not recording: stopped at {when}. The last run's figures follow.").format(
                when=_local_time(app, stopped_at, now)))
        elif not running:
            click.echo(_("Not recording."))
        free, floor = (state or {}).get("disk_free"), (state or {}).get("disk_floor")
        if result["disk_warning"] and free is not None and floor:
            click.secho(_("WARNING: {w}").format(w=_("only {free:.1f} GiB free for recordings (floor {floor:.1f} GiB)")
                                                  .format(free=free / 2**30, floor=floor / 2**30)), fg="red", err=True)
        elif result["disk_warning"]:
            click.secho(_("WARNING: {w}").format(w=result["disk_warning"]), fg="red", err=True)
        for c in items:
            age = c["last_segment_age_s"]
            if running:
                flag = _("recording") if c["recording"] else _("NOT RECORDING")
                data = _("data {ago}").format(ago=ago_text(age)) if age is not None else _("no data yet")
            else:
                flag = _("stopped")
                data = (_("last data at {when} ({ago})").format(when=_local_time(app, datetime.fromisoformat(c["last_data"]), now),
                                                              ago=ago_text(age))
                        if c["last_data"] else _("no data"))
            open_outage = [o for o in c["outages"] if o.get("end") is None] if running else []
            click.echo(f"{c['id']:<16} {flag:<14} {data}  {mib_text(c['bytes'], '8.1f')}  "
                       f"{_('restarts')} {c['restarts']}  {_('outages')} {len(c['outages'])}"
                       + (f"  ({_('down since')} {open_outage[0]['start']})" if open_outage else ""))
    emit(as_json, result, human)
    return 0


@click.group(cls=TrGroup)
def recorder_group() -> None:
    """The recording supervisor, in the foreground (for systemd or a Windows service)."""


@recorder_group.command("run")
@camera_ids
@click.option("--journal/--no-journal", default=True, show_default=True,
              help=_("Write the start and stop of recording to the journal with the station's key."))
@click.option("--interrupted", metavar="WHEN", hidden=True,
              help=_("When the run this one continues was cut (ISO time): kept as every camera's outage."))
@click.pass_obj
def recorder_run(app: App, camera_ids: tuple[str, ...], journal: bool, interrupted: str | None) -> int:
    """Record in the foreground until SIGTERM or Ctrl-C (what `cameras start` runs detached).

    \b
    systemd:  ExecStart=ppe-tech --data-dir /var/lib/ppe-tech recorder run
              KillSignal=SIGTERM, TimeoutStopSec=15
    """
    from video import recorder

    chosen = select(app, camera_ids)
    state = recorder.read_state(app.recorder_dir)
    if state and state.get("pid") != __import__("os").getpid() and recorder.alive(state.get("pid")):
        raise BadInput(_("already recording (supervisor pid {pid})").format(pid=state["pid"]))
    try:
        cut = datetime.fromisoformat(interrupted).timestamp() if interrupted else None
    except ValueError:
        raise BadInput(_("--interrupted: expected an ISO time, got {value!r}").format(value=interrupted)) from None
    supervisor = _supervisor(app, chosen, cut)
    supervisor.write_state()

    def on_signal(signum, frame) -> None:
        supervisor.stopping.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if journal:
        journal_action(app, START_ACTION, _rooms(chosen), None, None)
    supervisor.run()
    if journal:
        journal_action(app, STOP_ACTION, _rooms(chosen), None, None)
    return 0


RESUME_ACTION = "Начало записи (возобновление после перерыва с {since:%H:%M})"


@recorder_group.command("resume")
@json_option
@click.pass_obj
def recorder_resume(app: App, as_json: bool) -> int:
    """What runs at boot: start recording again if a power cut or a crash stopped it.

    It starts recording only when recording was on and nobody stopped it on purpose
    (`cameras stop`); inside a scheduled recording window only until the window closes.
    Then it journals «Начало записи» with the time recording stopped, keeps the outage
    as a gap of every camera, and repairs the segments the cut left damaged (or sets them
    aside in the camera's `.damaged/` folder). Never a second supervisor. Exit 0 whether
    it resumed or had nothing to do.

    \b
    Installed by `ppe-tech schedule sync` as the boot job (systemd: ppe-tech-resume.service;
    Windows: the \\ppe-tech\\ppe-tech-resume task at start-up).
    """
    from video import intent, recorder, repair

    meant = intent.read(app.recorder_dir)
    state = recorder.read_state(app.recorder_dir) or {}
    pid = running_pid(app)
    now = app.clock()
    result: dict = {"resumed": False, "pid": pid, "interrupted": None, "journal_entry": None, "repaired": []}
    if pid:
        result["why"] = _("already recording (supervisor pid {pid})").format(pid=pid)
    elif meant is None:
        result["why"] = _("recording was never started here")
    elif not meant.recording:
        result["why"] = _("recording was stopped on purpose at {at:%d.%m.%Y %H:%M}").format(
            at=datetime.fromisoformat(meant.stopped).astimezone(app.tz)) if meant.stopped else _("recording is off")
    elif meant.by == "schedule" and meant.exam and _window_closed(app, meant.exam, now):
        meant.recording, meant.stopped, meant.stopped_by = False, now.isoformat(), "schedule"
        intent.write(app.recorder_dir, meant)
        result["why"] = _("the recording window of {exam} closed while recording was down").format(exam=meant.exam)
    if "why" in result:
        emit(as_json, result, lambda: click.echo(_("Nothing to resume: {why}.").format(why=result["why"])))
        return ExitCode.OK

    assert meant is not None
    known = {c.id: c for c in app.config.cameras}
    chosen = [known[i] for i in meant.cameras if i in known] or list(app.config.cameras)
    cut = _cut_time(app, state, meant)

    signer = station_or_person_signer(app, None, None)
    pid = launch(app, chosen, interrupted=cut.isoformat())
    meant.resumed.append({"from": cut.isoformat(), "to": now.isoformat()})
    intent.write(app.recorder_dir, meant)
    result.update(resumed=True, pid=pid, interrupted={"from": cut.isoformat(), "to": now.isoformat(),
                                                       "seconds": round((now - cut).total_seconds(), 1)})
    result["journal_entry"] = journal_action(app, RESUME_ACTION.format(since=cut.astimezone(app.tz)), _rooms(chosen),
                                             None, None, signer=signer)
    result["repaired"] = [r.as_json() for r in repair.after_cut(app.recordings_dir, [c.id for c in chosen], app.tz,
                                                                 before=now.timestamp())]

    def human() -> None:
        click.echo(ngettext("Resumed recording of {n} camera (supervisor pid {pid}) after an interruption from {since:%H:%M:%S} "
                              "({seconds:.0f} s); journal entry {entry}.",
                              "Resumed recording of {n} cameras (supervisor pid {pid}) after an interruption from {since:%H:%M:%S} "
                              "({seconds:.0f} s); journal entry {entry}.", len(chosen)).format(
            n=len(chosen), pid=pid, since=cut.astimezone(app.tz), seconds=result["interrupted"]["seconds"],
            entry=result["journal_entry"] or "—"))
        for r in result["repaired"]:
            click.echo(f"  {r['camera']}: {r['segment']}: {r['detail']}" + (f" → {r['kept']}" if r["kept"] else ""))
    emit(as_json, result, human)
    return ExitCode.OK


def _window_closed(app: App, exam_id: str, now: datetime) -> bool:
    exam = next((e for e in app.config.exams if e.id == exam_id), None)
    return exam is not None and now >= exam.recording_window(app.tz)[1]


def _cut_time(app: App, state: dict, meant) -> datetime:
    """When recording stopped: the supervisor's last heartbeat (it writes its state every
    second), else the newest segment's last write, else when recording was asked for."""
    from video import segments

    moments = []
    if state.get("updated"):
        moments.append(datetime.fromisoformat(state["updated"]))
    for camera in meant.cameras:
        newest = segments.files(app.recordings_dir, camera)[-1:]
        if newest:
            moments.append(datetime.fromtimestamp(newest[0].stat().st_mtime).astimezone())
    if not moments and meant.since:
        moments.append(datetime.fromisoformat(meant.since))
    return max(moments) if moments else app.clock()




def _when(app: App, text: str | None, end: bool = False) -> float | None:
    if text is None:
        return None
    from ppe_tech.timeutil import parse_date, parse_local_datetime
    try:
        if "T" in text:
            moment = parse_local_datetime(text)
        else:
            moment = datetime.combine(parse_date(text), datetime.max.time() if end else datetime.min.time())
    except ValueError as exc:
        raise BadInput(f"{'--to' if end else '--from'}: {exc}") from None
    return moment.replace(tzinfo=app.tz).timestamp()


@click.group(cls=TrGroup)
def recordings() -> None:
    """Recorded segments: what they cover and where the gaps are."""


def _scan(app: App, camera: tuple[str, ...], since: float | None, until: float | None):
    from video import segments

    chosen = select(app, camera)
    index = segments.Index(app.recorder_dir / "segments-index.json")
    return chosen, segments.scan(app.recordings_dir, [c.id for c in chosen], app.tz, index, since, until)


window_options = [
    click.option("--from", "since", metavar="WHEN", help=_("Start: YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time).")),
    click.option("--to", "until", metavar="WHEN", help=_("End: YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time).")),
    click.option("--camera", multiple=True, metavar="CAMERA", help=_("Only this camera (repeatable).")),
]


def _window(func):
    for option in reversed(window_options):
        func = option(func)
    return func


@recordings.command("list")
@_window
@json_option
@click.pass_obj
def recordings_list(app: App, since: str | None, until: str | None, camera: tuple[str, ...], as_json: bool) -> int:
    """Every segment with its real start, end and size (probed from the file)."""
    from video.segments import iso

    lo, hi = _when(app, since), _when(app, until, end=True)
    chosen, found = _scan(app, camera, lo, hi)
    items = [{"camera": s.camera, "path": s.path, "start": iso(s.start, app.tz) if s.start else None,
              "end": iso(s.end, app.tz) if s.end else None, "seconds": round(s.seconds, 1), "bytes": s.bytes,
              "frames": s.frames, "error": s.error} for segs in found.values() for s in segs]
    coverage = []
    for cid, segs in found.items():
        timed = [s for s in segs if s.start is not None and s.end is not None]
        coverage.append({"camera": cid, "segments": len(segs), "unreadable": len(segs) - len(timed),
                         "first": iso(min(s.start for s in timed), app.tz) if timed else None,
                         "last": iso(max(s.end for s in timed), app.tz) if timed else None,
                         "recorded_s": round(sum(s.seconds for s in timed), 1),
                         "bytes": sum(s.bytes for s in segs)})

    def human() -> None:
        if not items:
            click.echo(_("No recordings."))
        for c in coverage:
            if c["segments"]:
                click.echo(_("{camera}: {n} segments, {hours:.2f} h recorded from {first} to {last}, {mib:.0f} MiB").format(
                    camera=c["camera"], n=c["segments"], hours=c["recorded_s"] / 3600, first=c["first"],
                    last=c["last"], mib=c["bytes"] / 2**20) + (_(", {u} unreadable").format(u=c["unreadable"])
                                                              if c["unreadable"] else ""))
        for s in items:
            span = f"{s['start'][11:19]}–{s['end'][11:19]}" if s["start"] else _("unreadable")
            click.echo(f"{s['camera']:<16} {s['start'][:10] if s['start'] else '':<10} {span:<17} "
                       f"{seconds_text(s['seconds'], '7.1f')} {mib_text(s['bytes'], '8.1f')}  {Path(s['path']).name}")
    emit(as_json, {"segments": items, "coverage": coverage}, human)
    return 0


@recordings.command("gaps")
@_window
@json_option
@click.pass_obj
def recordings_gaps(app: App, since: str | None, until: str | None, camera: tuple[str, ...], as_json: bool) -> int:
    """Every stretch over 2 s without video, per camera, from the segments' real times.

    Exit 0 when there is none, 1 when there are gaps.
    """
    from video import segments

    lo, hi = _when(app, since), _when(app, until, end=True)
    chosen, found = _scan(app, camera, lo, hi)
    found_gaps = []
    for c in chosen:
        found_gaps += segments.gaps(c.id, found.get(c.id, []), lo, hi)
    items = [g.as_json(app.tz) for g in found_gaps]

    def human() -> None:
        if not items:
            click.echo(_("No gaps."))
        for g in items:
            click.echo(f"{g['camera']:<16} {g['start']} – {g['end'][11:]}  {seconds_text(g['seconds'])}")
    emit(as_json, {"gaps": items}, human)
    return ExitCode.OK if not items else ExitCode.NEGATIVE


PRUNE_ACTION = "Удаление видеозаписей"
RECENT_SECONDS = 300  # a segment written to in the last five minutes may still be recording


@recordings.command("prune")
@click.option("--before", "before", metavar="YYYY-MM-DD",
              help=_("Delete segments that ended before this date [default: keep until 1 March of the next year]."))
@click.option("--yes", is_flag=True, help=_("Really delete (without it: a dry run that lists what would go)."))
@click.option("--force", is_flag=True, help=_("Also delete segments that no verified archive holds."))
@click.option("--camera", multiple=True, metavar="CAMERA", help=_("Only this camera (repeatable)."))
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def prune(app: App, before: str | None, yes: bool, force: bool, camera: tuple[str, ...], key_ref: str | None,
          passphrase_file: Path | None, as_json: bool) -> int:
    """Delete old recordings under the retention policy; a dry run unless --yes.

    Segments that no verified archive (`archive create`) holds are kept unless --force.
    What was deleted is written to the journal.
    """
    from datetime import date as _date

    from ppe_tech.commands.archive import archived_sources
    from ppe_tech.timeutil import parse_date
    from video import segments

    chosen = select(app, camera)
    signer = station_or_person_signer(app, key_ref, passphrase_file) if yes else None  # asked before deleting
    tz = app.tz
    today = app.now_local().date()
    if before is not None:
        try:
            cutoff_date = parse_date(before)
        except ValueError as exc:
            raise BadInput(f"--before: {exc}") from None
        if cutoff_date > today:
            raise BadInput(_("--before {d}: a date in the future would delete today's recordings").format(d=before))
    else:
        cutoff_date = None
    archived = archived_sources(app)
    now = time.time()
    delete, kept_unarchived, kept = [], [], 0
    for c in chosen:
        for path in segments.files(app.recordings_dir, c.id):
            named = segments.name_time(path, tz)
            if named is None:
                continue
            recorded = datetime.fromtimestamp(named, tz).date()
            limit = cutoff_date or _date(recorded.year + 1, 3, 1)
            stat = path.stat()
            if recorded >= limit or (cutoff_date is None and today < limit) or now - stat.st_mtime < RECENT_SECONDS:
                kept += 1
                continue
            if str(path.resolve()) not in archived and not force:
                kept_unarchived.append(str(path))
                continue
            delete.append((path, stat.st_size))
    total = sum(size for _p, size in delete)
    number = None
    if yes and delete:
        for path, _size in delete:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        from templates.render import plural_ru

        number = journal_action(app, f"{PRUNE_ACTION}: {plural_ru(len(delete), 'файл', 'файла', 'файлов')}, "
                                     f"{total / 2**30:.2f} ГиБ "
                                     f"(записи до {(cutoff_date or 'срока хранения')})",
                                _rooms(chosen), key_ref, passphrase_file, signer=signer)
    result = {"dry_run": not yes, "delete": [str(p) for p, _s in delete], "bytes": total,
              "kept_unarchived": kept_unarchived, "kept": kept, "journal_entry": number}

    def human() -> None:
        verb = _("Deleted") if yes else _("Would delete")
        click.echo(_("{verb} {n} segments ({gib:.2f} GiB).").format(verb=verb, n=len(delete), gib=total / 2**30))
        if kept_unarchived:
            click.echo(_("Kept {n} old segments that no verified archive holds (--force deletes them).").format(
                n=len(kept_unarchived)))
        if not yes and delete:
            click.echo(_("This was a dry run; add --yes to delete."))
    emit(as_json, result, human)
    return 0
