"""Scheduling the exam day's unattended work: systemd on Linux, Task Scheduler on Windows.

Each exam gets jobs in a namespace of our own (`ppe-tech-…` units; the `\\ppe-tech\\`
task folder):
- `ppe-tech-check-<exam>` at start − precheck_before, running `ppe-tech schedule due
  --exam ID`; `due` decides at run time: a check inside its window runs; one past the
  exam's start is reported missed, not run (a machine switched on late must not pass off
  a check made after the start as the pre-check);
- `ppe-tech-record-start-<exam>` and `ppe-tech-record-stop-<exam>` at the recording
  window's edges (start − record_before, end + record_after), also running `schedule due
  --exam ID`, which starts recording once when the window opens (a deliberate stop inside
  it is respected) and stops it when it closes;
- with a regional database, `ppe-tech-push-<exam>`, `journal push` half an hour after the
  exam's end, retried every 10 minutes until it succeeds (the network may be down).
Once per machine, `ppe-tech-resume` runs `ppe-tech recorder resume` at boot, which starts
recording again when a power cut or crash stopped it. Timers are `Persistent=true`: a
window edge passed while the station was off runs at boot. `sync` reconciles the jobs
with the config: adds, rewrites what changed, removes ours for exams no longer there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

PREFIX = "ppe-tech-check-"
READY_PREFIX = "ppe-tech-ready-"
PUSH_PREFIX = "ppe-tech-push-"
RECORD_START_PREFIX = "ppe-tech-record-start-"
RECORD_STOP_PREFIX = "ppe-tech-record-stop-"
RESUME = "ppe-tech-resume"  # the boot job: one per machine, not per exam
PUSH_AFTER = timedelta(minutes=30)  # after the exam's end: recording stopped, the archive made, the day confirmed
PRECHECK_EARLY = timedelta(hours=1)  # a full check this long before the pre-check's time is the pre-check
PREFIXES = (PREFIX, READY_PREFIX, PUSH_PREFIX, RECORD_START_PREFIX, RECORD_STOP_PREFIX, RESUME)
KIND_PREFIX = {"check": PREFIX, "readiness": READY_PREFIX, "push": PUSH_PREFIX, "record-start": RECORD_START_PREFIX,
               "record-stop": RECORD_STOP_PREFIX}
TASK_FOLDER = "\\ppe-tech\\"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"


@dataclass(frozen=True)
class Job:
    exam_id: str
    subject: str
    at: datetime  # aware, in the ППЭ's zone: when the job runs (a check: start - precheck_before;
    #               readiness: start - readiness_before; a push: end + PUSH_AFTER; recording: a window's edge)
    start: datetime  # aware: until when it may still run (a check: the exam's start; a window: its end)
    kind: str = "check"  # check | readiness | push | record-start | record-stop
    ends: datetime | None = None  # a readiness check's end boundary: the pre-check's window (else the start)

    @property
    def name(self) -> str:
        return KIND_PREFIX[self.kind] + self.exam_id

    @property
    def action(self) -> list[str]:
        """The ppe-tech words the job runs."""
        if self.kind == "push":
            return ["journal", "push"]
        stage = {"readiness": "readiness", "check": "precheck"}.get(self.kind, "recording")
        return ["schedule", "due", "--exam", self.exam_id, "--stage", stage]

    @property
    def what(self) -> str:
        kind = {"push": "journal push to the regional centre after", "check": "pre-exam check for",
                "readiness": "technical preparation (full check the day before) for",
                "record-start": "start of recording for", "record-stop": "stop of recording after"}[self.kind]
        return f"ppe-tech {kind} {self.exam_id}" + (f" ({self.subject})" if self.subject else "")


def jobs_for(exams, tz: ZoneInfo, now: datetime, *, push: bool = False) -> list[Job]:
    """The jobs the config asks for: the check of every exam that has not started yet, the
    edges of every recording window still ahead, and with `push` the journal push of every
    exam whose push time is still ahead."""
    out = []
    for exam in exams:
        start = exam.start.replace(tzinfo=tz)
        check_at = start - exam.precheck_before
        if check_at - PRECHECK_EARLY > now:  # the day-before check's window is still open
            out.append(Job(exam.id, exam.subject, start - exam.readiness_before, start, "readiness",
                           check_at - PRECHECK_EARLY))
        if start > now:
            out.append(Job(exam.id, exam.subject, check_at, start))
        opens, closes = exam.recording_window(tz)
        if opens > now:
            out.append(Job(exam.id, exam.subject, opens, closes, "record-start"))
        if closes > now:
            out.append(Job(exam.id, exam.subject, closes, closes, "record-stop"))
        if push and start + exam.duration + PUSH_AFTER > now:
            out.append(Job(exam.id, exam.subject, start + exam.duration + PUSH_AFTER, start, "push"))
    return sorted(out, key=lambda j: (j.at, j.name))


# -- systemd ------------------------------------------------------------------------------------

def _quote(arg: str) -> str:
    """A systemd ExecStart word: quoted when it has spaces or specials; % and $ escaped."""
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if re.search(r'[\s"\'\\;]', arg) or escaped != arg else arg


def systemd_units(job: Job, command: list[str], tz_name: str) -> dict[str, str]:
    """{file name: text} of the service and the timer for one job."""
    what = job.what
    retry = job.kind == "push"  # until the regional database answers
    # `schedule due` may start the recording supervisor, which must outlive this oneshot service
    keep_children = job.kind in ("record-start", "record-stop")
    service = (f"[Unit]\nDescription={what}\nDocumentation=https://github.com/ppe-tech/ppe-tech\n"
               + ("StartLimitIntervalSec=0\n" if retry else "") + "\n"
               "[Service]\nType=oneshot\n"
               f"ExecStart={' '.join(_quote(a) for a in [*command, *job.action])}\n"
               "TimeoutStartSec=30min\n" + ("Restart=on-failure\nRestartSec=10min\n" if retry else "")
               + ("KillMode=process\n" if keep_children else ""))
    timer = (f"[Unit]\nDescription=Timer: {what}\n\n"
             f"[Timer]\nOnCalendar={job.at:%Y-%m-%d %H:%M:%S} {tz_name}\nAccuracySec=1s\nPersistent=true\n"
             f"Unit={job.name}.service\n\n[Install]\nWantedBy=timers.target\n")
    return {f"{job.name}.service": service, f"{job.name}.timer": timer}


def resume_unit(command: list[str], user: bool = False) -> dict[str, str]:
    """The boot job: `recorder resume` once the network is up, retried while it fails. It
    starts the supervisor detached, so only its own process is stopped when it exits."""
    target = "default.target" if user else "multi-user.target"
    service = ("[Unit]\nDescription=ppe-tech: resume recording after a power cut or crash\n"
               "Documentation=https://github.com/ppe-tech/ppe-tech\n"
               "Wants=network-online.target\nAfter=network-online.target\nStartLimitIntervalSec=0\n\n"
               "[Service]\nType=oneshot\n"
               f"ExecStart={' '.join(_quote(a) for a in [*command, 'recorder', 'resume'])}\n"
               "TimeoutStartSec=5min\nRestart=on-failure\nRestartSec=30s\nKillMode=process\n\n"
               f"[Install]\nWantedBy={target}\n")
    return {f"{RESUME}.service": service}


def installed_units(unit_dir: Path) -> dict[str, str]:
    if not unit_dir.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for prefix in PREFIXES for p in sorted(unit_dir.glob(prefix + "*"))
            if p.suffix in (".service", ".timer")}


@dataclass
class Plan:
    add: list[str]
    update: list[str]
    remove: list[str]
    keep: list[str]

    @property
    def empty(self) -> bool:
        return not (self.add or self.update or self.remove)


def plan(desired: dict[str, str], installed: dict[str, str]) -> Plan:
    return Plan(add=sorted(n for n in desired if n not in installed),
                update=sorted(n for n in desired if n in installed and installed[n] != desired[n]),
                remove=sorted(n for n in installed if n not in desired),
                keep=sorted(n for n in desired if installed.get(n) == desired[n]))


def on_calendar(text: str) -> str | None:
    m = re.search(r"^OnCalendar=(.+)$", text, re.M)
    return m.group(1).strip() if m else None


# -- Windows Task Scheduler ---------------------------------------------------------------------

def task_xml(job: Job, command: list[str]) -> bytes:
    """A Task Scheduler 1.2 task at `job.at`. A check expires at the exam's start and the start
    of recording at the window's end (EndBoundary), so a late machine does not run them; a
    missed start runs when available; a push is retried every 10 minutes."""
    bounds = {"StartBoundary": job.at.isoformat(timespec="seconds")}
    if job.kind in ("check", "readiness", "record-start"):  # a check after its window is no such check
        bounds["EndBoundary"] = (job.ends or job.start).isoformat(timespec="seconds")
    return _task(job.name, job.what, command, job.action, ("TimeTrigger", bounds),
                 ("PT10M", 36) if job.kind == "push" else None)


def resume_task_xml(command: list[str]) -> bytes:
    """The boot task: `recorder resume` 30 s after start-up, retried every minute while it fails."""
    return _task(RESUME, "ppe-tech: resume recording after a power cut or crash", command, ["recorder", "resume"],
                 ("BootTrigger", {"Delay": "PT30S"}), ("PT1M", 30))


def _task(name: str, what: str, command: list[str], words: list[str], trigger: tuple[str, dict],
          restart: tuple[str, int] | None) -> bytes:
    """UTF-16 task XML, as schtasks /XML expects; runs as the registering user, elevated."""
    ET.register_namespace("", TASK_NS)

    def el(parent, tag, text=None, **attrs):
        node = ET.SubElement(parent, f"{{{TASK_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node
    task = ET.Element(f"{{{TASK_NS}}}Task", {"version": "1.2"})
    info = el(task, "RegistrationInfo")
    el(info, "Description", what)
    el(info, "URI", f"{TASK_FOLDER}{name}")
    kind, fields = trigger
    node = el(el(task, "Triggers"), kind)
    for tag, text in fields.items():
        el(node, tag, text)
    el(node, "Enabled", "true")
    principal = el(el(task, "Principals"), "Principal", id="Author")
    el(principal, "LogonType", "S4U")
    el(principal, "RunLevel", "HighestAvailable")
    settings = el(task, "Settings")
    for tag, text in (("MultipleInstancesPolicy", "IgnoreNew"), ("DisallowStartIfOnBatteries", "false"),
                      ("StopIfGoingOnBatteries", "false"), ("StartWhenAvailable", "true"),
                      ("ExecutionTimeLimit", "PT30M"), ("Enabled", "true"), ("WakeToRun", "true")):
        el(settings, tag, text)
    if restart:
        node = el(settings, "RestartOnFailure")
        el(node, "Interval", restart[0])
        el(node, "Count", str(restart[1]))
    exec_ = el(el(task, "Actions", Context="Author"), "Exec")
    el(exec_, "Command", command[0])
    el(exec_, "Arguments", " ".join(_win_quote(a) for a in [*command[1:], *words]))
    ET.indent(task)
    return ('<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")).encode("utf-16")


def _win_quote(arg: str) -> str:
    if arg and not re.search(r'[\s"]', arg):
        return arg
    return '"' + re.sub(r'(\\*)"', r'\1\1\\"', re.sub(r"(\\+)$", r"\1\1", arg)) + '"'


def schtasks_create(name: str, xml_path: Path) -> list[str]:
    return ["schtasks", "/Create", "/TN", f"{TASK_FOLDER}{name}", "/XML", str(xml_path), "/F"]


def schtasks_delete(name: str) -> list[str]:
    return ["schtasks", "/Delete", "/TN", f"{TASK_FOLDER}{name}", "/F"]


def parse_schtasks_query(csv_text: str) -> list[str]:
    """Our task names from `schtasks /Query /FO CSV /NH`."""
    names = []
    for line in csv_text.splitlines():
        first = line.split('","')[0].strip('"')
        if any(first.lower().startswith(TASK_FOLDER.lower() + prefix) for prefix in PREFIXES):
            names.append(first[len(TASK_FOLDER):])
    return sorted(set(names))


def command_words(python: str, config: Path | None, data_dir: Path) -> list[str]:
    # -P: the job's working folder is never put on sys.path (a `video/` there must not shadow ours)
    words = [python, "-P", "-m", "ppe_tech"]
    if config is not None:
        words += ["--config", str(config)]
    return words + ["--data-dir", str(data_dir)]


def due_state(job_at: datetime, start: datetime, now: datetime, ran_since_window: bool) -> str:
    """'early' (before the window), 'due', 'done', or 'missed' (the exam started without a check)."""
    if ran_since_window:
        return "done"
    if now < job_at:
        return "early"
    if now < start:
        return "due"
    return "missed"

