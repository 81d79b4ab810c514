"""`ppe-tech schedule`: the pre-exam check on time, with nobody at the keyboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import click

from ppe_tech.app import App, emit, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.errors import EnvironmentFailure, ExitCode
from ppe_tech.messages import _
from ppe_tech.options import json_option

user_option = click.option("--user", "user_units", is_flag=True,
                           help=_("systemd: install as the user's units, not the system's."))
unit_dir_option = click.option("--unit-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                               help=_("Write the jobs to DIR and do not activate them (packaging, tests): systemd "
                                      "units on Linux, Task Scheduler XML on Windows."))


@click.group(cls=TrGroup)
def schedule() -> None:
    """The exam day's unattended jobs: the pre-exam check, recording, the journal's push.

    \b
      ppe-tech schedule sync --dry-run     # what would change
      ppe-tech schedule sync               # install, update, remove jobs to match the config
      ppe-tech schedule list
      ppe-tech schedule due                # run what is due now (a fallback for cron)

    Linux: systemd timers (OnCalendar in the ППЭ's time zone, AccuracySec=1s,
    Persistent=true). Windows: Task Scheduler tasks in \\ppe-tech\\ that expire at the
    exam's start. A check found late (after the start) is reported missed, not run.
    Recording starts when each exam's recording window opens (record_before) and stops
    when it closes (record_after); at boot `recorder resume` brings it back after a power
    cut. With [region] db set, each exam also gets `journal push` 30 minutes after its
    end, retried every 10 minutes until the regional database takes it.
    """


def _unit_dir(user_units: bool, unit_dir: Path | None) -> Path:
    if unit_dir is not None:
        return unit_dir
    if user_units:
        return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user"
    return Path("/etc/systemd/system")


def _command(app: App) -> list[str]:
    from checks.schedule import command_words

    config = Path(app.config.source).resolve() if app.config.source else None
    return command_words(sys.executable, config, Path(app.data_dir).resolve())


def _systemctl(user_units: bool, *args: str) -> None:
    tool = shutil.which("systemctl")
    if tool is None:
        raise EnvironmentFailure(_("systemctl not found: this system does not run systemd; use `--unit-dir DIR` to "
                                   "only write the units, or `ppe-tech schedule due` from cron"))
    proc = subprocess.run([tool, *(["--user"] if user_units else []), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentFailure(_("systemctl {args} failed: {error}").format(
            args=" ".join(args), error=(proc.stderr.strip().splitlines() or ["exit " + str(proc.returncode)])[-1]))


def _windows_tasks(app: App, user_units: bool, unit_dir: Path | None) -> tuple[Path, list[str]]:
    """Windows: the folder of the tasks' XML and the names of our tasks installed: registered in
    Task Scheduler, or with --unit-dir the XML files in DIR (written, never registered)."""
    from checks import schedule as sch

    if user_units:
        raise click.UsageError(_("--user is for systemd; on Windows a task runs as the account that registers it"))
    if unit_dir is None:
        return app.data_dir / "schedule", \
            sch.parse_schtasks_query(_schtasks("/Query", "/FO", "CSV", "/NH"))
    names = sorted(f.stem for f in unit_dir.glob("*.xml") if f.stem.startswith(sch.PREFIXES)) \
        if unit_dir.is_dir() else []
    return unit_dir, names


def _schtasks(*args: str) -> str:
    proc = subprocess.run(["schtasks", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentFailure(_("schtasks {args} failed: {error}").format(
            args=" ".join(args[:2]), error=(proc.stderr.strip() or proc.stdout.strip() or str(proc.returncode))))
    return proc.stdout


@schedule.command("sync")
@click.option("--dry-run", is_flag=True, help=_("Only say what would change, and print the commands it would run."))
@user_option
@unit_dir_option
@json_option
@click.pass_obj
def sync(app: App, dry_run: bool, user_units: bool, unit_dir: Path | None, as_json: bool) -> int:
    """Install, update and remove the day's jobs so they match the config's exams.

    Per exam: the pre-exam check, the start and the stop of recording at the recording
    window's edges, and (with [region] db) the journal push; once: the boot job that
    resumes recording after a power cut (`ppe-tech recorder resume`).
    """
    from checks import schedule as sch

    app.not_in_rehearsal("schedule sync")
    jobs = sch.jobs_for(app.require_config().exams, app.tz, app.clock(), push=bool(app.config.region.db))
    command = _command(app)
    commands: list[list[str]] = []  # what is run, in order (printed by --dry-run)
    if sys.platform == "win32":
        folder, installed_names = _windows_tasks(app, user_units, unit_dir)
        desired = {f"{j.name}.xml": sch.task_xml(j, command) for j in jobs}
        desired[f"{sch.RESUME}.xml"] = sch.resume_task_xml(command)
        installed = {f"{n}.xml": (folder / f"{n}.xml").read_bytes() if (folder / f"{n}.xml").exists() else b""
                     for n in installed_names}
        p = sch.plan(desired, installed)  # type: ignore[arg-type]
        if unit_dir is None:
            commands += [sch.schtasks_create(name[:-4], folder / name) for name in p.add + p.update]
            commands += [sch.schtasks_delete(name[:-4]) for name in p.remove]
        if not dry_run:
            folder.mkdir(parents=True, exist_ok=True)
            for name in p.add + p.update:
                write_output(folder / name, desired[name])
            for cmd in commands:
                _schtasks(*cmd[1:])
            for name in p.remove:
                (folder / name).unlink(missing_ok=True)
    else:
        where = _unit_dir(user_units, unit_dir)
        desired = sch.resume_unit(command, user=user_units)
        for job in jobs:
            desired.update(sch.systemd_units(job, command, app.config.ppe.timezone))
        installed = sch.installed_units(where)
        p = sch.plan(desired, installed)
        # systemctl words: before the files change (stop what goes), then after (load, start)
        before, after = [], []
        if unit_dir is None and not p.empty:
            stale_timers = [n for n in p.remove if n.endswith(".timer")]
            if stale_timers:
                before.append(["disable", "--now", *stale_timers])
            after.append(["daemon-reload"])
            timers = [n for n in p.add + p.update if n.endswith(".timer")]
            if timers:
                after.append(["enable", "--now", *timers])
            if f"{sch.RESUME}.service" in p.add:
                after.append(["enable", f"{sch.RESUME}.service"])
        commands += [["systemctl", *(["--user"] if user_units else []), *words] for words in before + after]
        if not dry_run and not p.empty:
            for words in before:
                _systemctl(user_units, *words)
            where.mkdir(parents=True, exist_ok=True)
            for name in p.add + p.update:
                write_output(where / name, desired[name].encode("utf-8"))
            for name in p.remove:
                (where / name).unlink(missing_ok=True)
            for words in after:
                _systemctl(user_units, *words)
    result = {"dry_run": dry_run, "add": p.add, "update": p.update, "remove": p.remove, "unchanged": p.keep,
              "jobs": [{"exam": j.exam_id, "kind": j.kind, "at": j.at.isoformat(), "exam_start": j.start.isoformat(),
                        "runs": [*command, *j.action]} for j in jobs],
              "boot": [*command, "recorder", "resume"], "commands": commands}

    def human() -> None:
        texts = {"push": _("{exam}: journal push at {at:%d.%m.%Y %H:%M}, after the exam"),
                 "check": _("{exam}: check at {at:%d.%m.%Y %H:%M} (exam at {start:%H:%M})"),
                 "readiness": _("{exam}: technical preparation (full check) at {at:%d.%m.%Y %H:%M} "
                                "(exam on {start:%d.%m at %H:%M})"),
                 "record-start": _("{exam}: recording starts at {at:%d.%m.%Y %H:%M}"),
                 "record-stop": _("{exam}: recording stops at {at:%d.%m.%Y %H:%M}")}
        for j in jobs:
            click.echo(texts[j.kind].format(exam=j.exam_id, at=j.at, start=j.start))
        click.echo(_("at boot: resume recording after a power cut or crash"))
        verb = _("would ") if dry_run else ""
        for label, names in ((_("add"), p.add), (_("update"), p.update), (_("remove"), p.remove)):
            for name in names:
                click.echo(f"  {verb}{label}: {name}")
        if p.empty:
            click.echo(_("Nothing to change."))
        if dry_run:
            from shlex import join

            click.echo(_("Each job runs:"))
            for runs in dict.fromkeys(join(r["runs"]) for r in result["jobs"]):
                click.echo(f"  {runs}")
            click.echo(f"  {join(result['boot'])}")
            if commands:
                click.echo(_("Would run:"))
                for cmd in commands:
                    click.echo(f"  {join(str(c) for c in cmd)}")
    emit(as_json, result, human)
    return ExitCode.OK


@schedule.command("list")
@user_option
@unit_dir_option
@json_option
@click.pass_obj
def list_jobs(app: App, user_units: bool, unit_dir: Path | None, as_json: bool) -> int:
    """The installed jobs of ppe-tech and when each runs."""
    from checks import schedule as sch

    if sys.platform == "win32":
        rows = [{"name": n, "at": None} for n in _windows_tasks(app, user_units, unit_dir)[1]]
    else:
        units = sch.installed_units(_unit_dir(user_units, unit_dir))
        rows = [{"name": n[:-len(".timer")], "at": sch.on_calendar(text)} for n, text in units.items()
                if n.endswith(".timer")]
        if f"{sch.RESUME}.service" in units:
            rows.append({"name": sch.RESUME, "at": "boot"})
    configured = {prefix + e.id for e in app.config.exams
                  for prefix in (sch.PREFIX, sch.READY_PREFIX, sch.RECORD_START_PREFIX, sch.RECORD_STOP_PREFIX)}
    configured.add(sch.RESUME)
    if app.config.region.db:
        configured |= {sch.PUSH_PREFIX + e.id for e in app.config.exams}
    for row in rows:
        row["in_config"] = row["name"] in configured

    def human() -> None:
        if not rows:
            click.echo(_("No jobs installed; `ppe-tech schedule sync` installs them."))
        for row in rows:
            click.echo(f"{row['name']}  {row['at'] or ''}" + ("" if row["in_config"] else _("  (not in the config)")))
    emit(as_json, {"jobs": rows}, human)
    return ExitCode.OK


@schedule.command("remove")
@click.option("--exam", "exam_ids", multiple=True, metavar="ID", help=_("Only this exam's job [default: all of ours]."))
@user_option
@unit_dir_option
@json_option
@click.pass_obj
def remove(app: App, exam_ids: tuple[str, ...], user_units: bool, unit_dir: Path | None, as_json: bool) -> int:
    """Remove ppe-tech's jobs (all, or the named exams')."""
    from checks import schedule as sch

    app.not_in_rehearsal("schedule remove")

    wanted = {sch.KIND_PREFIX[kind] + e for e in exam_ids for kind in sch.KIND_PREFIX}
    removed: list[str] = []
    if sys.platform == "win32":
        folder, names = _windows_tasks(app, user_units, unit_dir)
        for name in names:
            if not wanted or name in wanted:
                if unit_dir is None:
                    _schtasks(*sch.schtasks_delete(name)[1:])
                (folder / f"{name}.xml").unlink(missing_ok=True)
                removed.append(name)
    else:
        where = _unit_dir(user_units, unit_dir)
        units = sch.installed_units(where)
        doomed = [n for n in units if not wanted or n.rsplit(".", 1)[0] in wanted]
        enabled = [n for n in doomed if n.endswith(".timer") or n == f"{sch.RESUME}.service"]
        if unit_dir is None and enabled:
            _systemctl(user_units, "disable", *(["--now"] if any(n.endswith(".timer") for n in enabled) else []),
                       *enabled)
        for name in doomed:
            (where / name).unlink(missing_ok=True)
            removed.append(name)
        if unit_dir is None and doomed:
            _systemctl(user_units, "daemon-reload")
    emit(as_json, {"removed": removed}, lambda: click.echo(
        "\n".join(_("removed: {n}").format(n=n) for n in removed) or _("Nothing to remove.")))
    return ExitCode.OK


def _due_check(ctx: click.Context, exam, stage: str, at, until, now, made: bool) -> dict:
    """One check of `exam` at its stage: run when due, else say early, done or missed; with "code"."""
    from checks import schedule as sch

    state = sch.due_state(at, until, now, made)
    from ppe_tech.commands.check import checks_dir

    row = {"exam": exam.id, "stage": stage, "at": at.isoformat(), "state": state, "code": ExitCode.OK,
           "protocol_dir": str(checks_dir(ctx.obj))}
    if state == "due":
        row.update(_run_check(ctx, exam, stage))
        row["code"] = ExitCode(row["exit"])
    elif state == "missed":
        row["code"] = ExitCode.NEGATIVE
    return row


def _run_check(ctx: click.Context, exam, stage: str) -> dict:
    """A full check of the profile for `exam` now, with its protocol: {"state", "exit", "pdf"}."""
    from ppe_tech.commands.check import checks_dir, free_name, run

    app: App = ctx.obj
    folder = checks_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    # a rerun keeps the earlier protocol: protocol_math.pdf, protocol_math-2.pdf, …
    pdf = free_name(folder / (f"readiness_{exam.id}.pdf" if stage == "readiness" else f"protocol_{exam.id}.pdf"))
    outcome = ctx.invoke(run, exam_id=exam.id, profile_name=None, stage=stage, only=(), fmt="text",
                         out=folder / f"last_{stage}_{exam.id}.txt", pdf=pdf, strict=False, verbose=False,
                         key_ref=None, no_journal=False, passphrase_file=None, as_json=False)
    return {"state": "ran", "exit": int(outcome), "pdf": str(pdf)}


def _push_due(app: App, exam, now) -> tuple[str, ExitCode]:
    """The journal's push after `exam`, when due and not made since its end: (what happened, exit code)."""
    from checks.schedule import PUSH_AFTER
    from ppe_tech.commands.journal import push_now, pushes_made, region_url
    from ppe_tech.errors import PpeError

    end = exam.start.replace(tzinfo=app.tz) + exam.duration
    if now < end + PUSH_AFTER:
        return _("due at {at:%H:%M}").format(at=end + PUSH_AFTER), ExitCode.OK
    if any(datetime.fromisoformat(p["at"]) >= end for p in pushes_made(app)):
        return _("sent already"), ExitCode.OK
    try:
        result = push_now(app, region_url(app, None, "[region] db"))
    except PpeError as exc:
        return _("failed: {why}").format(why=exc.message), exc.exit_code
    return _("records sent: {n}").format(n=result.records), ExitCode.OK


def _marks_path(app: App) -> Path:
    return app.data_dir / "schedule" / "recording.json"


def _recording_due(app: App, exam, now) -> tuple[str, ExitCode]:
    """The recording window of `exam` at `now`: start recording once when it has opened, stop
    it once when it has closed; a deliberate stop inside the window is respected."""
    import json

    from ppe_tech.commands.recording import begin_recording, end_recording, running_pid
    from ppe_tech.errors import PpeError
    from video import intent

    opens, closes = exam.recording_window(app.tz)
    path = _marks_path(app)
    try:
        marks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        marks = {}
    mine = marks.setdefault(exam.id, {})

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_output(path, json.dumps(marks, indent=1).encode("utf-8"))
    if now < opens:
        return _("starts at {at:%H:%M}").format(at=opens), ExitCode.OK
    running = running_pid(app) is not None
    if now < closes:
        if running:
            return _("recording"), ExitCode.OK
        if mine.get("started"):
            return _("started at {at:%H:%M} already; not started again").format(
                at=datetime.fromisoformat(mine["started"]).astimezone(app.tz)), ExitCode.OK
        meant = intent.read(app.recorder_dir)
        if meant and not meant.recording and meant.stopped and datetime.fromisoformat(meant.stopped) >= opens:
            return _("stopped on purpose at {at:%H:%M}; not started again").format(
                at=datetime.fromisoformat(meant.stopped).astimezone(app.tz)), ExitCode.OK
        try:
            begin_recording(app, list(app.config.cameras), by="schedule", exam=exam.id)
        except PpeError as exc:
            return _("failed to start: {why}").format(why=exc.message), exc.exit_code
        mine["started"] = now.isoformat()
        save()
        return _("started"), ExitCode.OK
    if mine.get("closed"):
        return _("window closed at {at:%H:%M}").format(at=closes), ExitCode.OK
    others_open = any(e.id != exam.id and e.recording_window(app.tz)[0] <= now < e.recording_window(app.tz)[1]
                      for e in app.config.exams)
    outcome = _("window closed at {at:%H:%M}").format(at=closes)
    if running and not others_open:
        end_recording(app, by="schedule")
        outcome = _("stopped: the window closed at {at:%H:%M}").format(at=closes)
    mine["closed"] = now.isoformat()
    save()
    return outcome, ExitCode.OK


def _ran_full(app: App, exam_id: str, since=None, before=None) -> bool:
    """Whether a full run of the profile for this exam was made in [since, before)."""
    from ppe_tech.commands.check import kept_reports

    return any(r["exam"] == exam_id and r["full"]
               and (since is None or datetime.fromisoformat(r["started"]) >= since)
               and (before is None or datetime.fromisoformat(r["started"]) < before) for r in kept_reports(app))


@schedule.command("due")
@click.option("--exam", "exam_id", metavar="ID", help=_("Only this exam [default: every exam in the config]."))
@click.option("--stage", type=click.Choice(["readiness", "precheck", "recording"]),
              help=_("Only the day-before full check, only the pre-exam check, or only the recording window "
                     "[default: all]."))
@json_option
@click.pass_context
def due(ctx: click.Context, exam_id: str | None, stage: str | None, as_json: bool) -> int:
    """Run what is due now: the checks, the start or stop of recording, the journal's push.

    The technical preparation (a full check with its own protocol) is due from
    start − readiness_before until an hour before the pre-check; the pre-check from
    start − precheck_before until the start. A check not made in its window is reported
    missed (exit 1) and not run. Recording is started once when the exam's recording
    window opens (not again after a deliberate `cameras stop`) and stopped once when it
    closes. With [region] db set, the journal is also pushed once 30 minutes after each
    exam's end, if it was not pushed since. Used by the installed jobs, and from cron
    where there is no systemd: `*/5 * * * * ppe-tech schedule due`.
    """
    from checks import schedule as sch

    app: App = ctx.obj
    exams = [app.require_config().exam(exam_id)] if exam_id else list(app.require_config().exams)
    now = app.clock()
    rows, code = [], ExitCode.OK
    for exam in exams:
        start = exam.start.replace(tzinfo=app.tz)
        at = start - exam.precheck_before
        if stage == "recording":  # the jobs at the recording window's edges
            row = {"exam": exam.id, "stage": "recording"}
            row["recording"], failed = _recording_due(app, exam, now)
            code = max(code, failed)
            rows.append(row)
            continue
        ready_at, ready_until = start - exam.readiness_before, at - sch.PRECHECK_EARLY
        readiness = None
        if stage in (None, "readiness"):
            readiness = _due_check(ctx, exam, "readiness", ready_at, ready_until, now,
                                   _ran_full(app, exam.id, before=ready_until))
            code = max(code, readiness.pop("code"))
        if stage == "readiness":
            rows.append(readiness)
            continue
        row = _due_check(ctx, exam, "precheck", at, start, now, _ran_full(app, exam.id, since=at - sch.PRECHECK_EARLY))
        code = max(code, row.pop("code"))
        if readiness is not None:  # one row per exam, as before; the day before inside it
            row["readiness"] = {k: v for k, v in readiness.items() if k != "exam"}
        if stage is None and app.config.cameras:
            row["recording"], failed = _recording_due(app, exam, now)
            code = max(code, failed)
        if app.config.region.db:
            row["push"], failed = _push_due(app, exam, now)
            code = max(code, failed)
        rows.append(row)

    def human() -> None:
        for row in [r for top in rows for r in ([{**top["readiness"], "exam": top["exam"]}] if "readiness" in top
                                                 else []) + [top]]:
            if row["stage"] == "recording":
                click.echo(_("{exam}: recording: {state}").format(exam=row["exam"], state=row["recording"]))
                continue
            if row["stage"] == "readiness":
                text = {"early": _("{exam}: the technical preparation is due on {day} at {at}"),
                        "done": _("{exam}: technical preparation made already"),
                        "ran": _("{exam}: technical preparation checked now (exit {exit}), protocol {pdf}"),
                        "missed": _("{exam}: MISSED: the technical preparation was due on {day} at {at}")}[row["state"]]
            else:
                text = {"early": _("{exam}: the check is due at {at}; its protocol will be in {protocol_dir}"),
                        "done": _("{exam}: checked already"),
                        "ran": _("{exam}: checked now (exit {exit}), protocol {pdf}"),
                        "missed": _("{exam}: MISSED: the check was due at {at} and the exam has started")}[row["state"]]
            click.echo(text.format(**{**row, "at": row["at"][11:16], "day": f"{row['at'][8:10]}.{row['at'][5:7]}"}))
            if "recording" in row:
                click.echo(_("{exam}: recording: {state}").format(exam=row["exam"], state=row["recording"]))
            if "push" in row:
                click.echo(_("{exam}: journal push: {state}").format(exam=row["exam"], state=row["push"]))
    emit(as_json, {"exams": rows}, human)
    return code
