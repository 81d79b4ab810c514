"""Scheduling the pre-exam check: systemd timers on Linux, Task Scheduler on Windows.

Each exam gets one job in a namespace of our own (`ppe-tech-check-<exam id>` units;
the `\\ppe-tech\\` task folder) that runs `ppe-tech schedule due --exam ID` at
start − precheck_before. With a regional database configured, each exam also gets a
`ppe-tech-push-<exam id>` job, `journal push` half an hour after the exam's end,
retried every 10 minutes until it succeeds (the network may be down). `due` decides at run time: a check inside its window runs; one
past the exam's start is reported missed, not run (a machine switched on late must not
pass off a check made after the start as the pre-check). `sync` reconciles the jobs
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
PUSH_AFTER = timedelta(minutes=30)  # after the exam's end: recording stopped, the archive made, the day confirmed
PRECHECK_EARLY = timedelta(hours=1)  # a full check this long before the pre-check's time is the pre-check
PREFIXES = (PREFIX, READY_PREFIX, PUSH_PREFIX)
TASK_FOLDER = "\\ppe-tech\\"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"


@dataclass(frozen=True)
class Job:
    exam_id: str
    subject: str
    at: datetime  # aware, in the ППЭ's zone: start - precheck_before (readiness: start - readiness_before;
    #               a push: end + PUSH_AFTER)
    start: datetime  # aware: the exam's start
    kind: str = "check"  # check | readiness | push
    ends: datetime | None = None  # a readiness check's end boundary: the pre-check's window (else the start)

    @property
    def name(self) -> str:
        return {"push": PUSH_PREFIX, "readiness": READY_PREFIX}.get(self.kind, PREFIX) + self.exam_id

    @property
    def action(self) -> list[str]:
        """The ppe-tech words the job runs."""
        if self.kind == "push":
            return ["journal", "push"]
        return ["schedule", "due", "--exam", self.exam_id, "--stage",
                "readiness" if self.kind == "readiness" else "precheck"]

    @property
    def what(self) -> str:
        kind = {"push": "journal push to the regional centre after",
                "readiness": "technical preparation (full check the day before) for"}.get(self.kind, "pre-exam check for")
        return f"ppe-tech {kind} {self.exam_id}" + (f" ({self.subject})" if self.subject else "")


def jobs_for(exams, tz: ZoneInfo, now: datetime, *, push: bool = False) -> list[Job]:
    """The jobs the config asks for: the check of every exam that has not started yet, and
    with `push` the journal push of every exam whose push time is still ahead."""
    out = []
    for exam in exams:
        start = exam.start.replace(tzinfo=tz)
        check_at = start - exam.precheck_before
        if check_at - PRECHECK_EARLY > now:  # the day-before check's window is still open
            out.append(Job(exam.id, exam.subject, start - exam.readiness_before, start, "readiness",
                           check_at - PRECHECK_EARLY))
        if start > now:
            out.append(Job(exam.id, exam.subject, check_at, start))
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
    service = (f"[Unit]\nDescription={what}\nDocumentation=https://github.com/ppe-tech/ppe-tech\n"
               + ("StartLimitIntervalSec=0\n" if retry else "") + "\n"
               "[Service]\nType=oneshot\n"
               f"ExecStart={' '.join(_quote(a) for a in [*command, *job.action])}\n"
               "TimeoutStartSec=30min\n" + ("Restart=on-failure\nRestartSec=10min\n" if retry else ""))
    timer = (f"[Unit]\nDescription=Timer: {what}\n\n"
             f"[Timer]\nOnCalendar={job.at:%Y-%m-%d %H:%M:%S} {tz_name}\nAccuracySec=1s\nPersistent=true\n"
             f"Unit={job.name}.service\n\n[Install]\nWantedBy=timers.target\n")
    return {f"{job.name}.service": service, f"{job.name}.timer": timer}


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
    """A Task Scheduler 1.2 task: starts at start − precheck_before, expires at the exam's
    start (EndBoundary) so a late machine does not run it; runs when available after a
    missed start; UTF-16 as schtasks /XML expects."""
    ET.register_namespace("", TASK_NS)

    def el(parent, tag, text=None, **attrs):
        node = ET.SubElement(parent, f"{{{TASK_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node
    task = ET.Element(f"{{{TASK_NS}}}Task", {"version": "1.2"})
    info = el(task, "RegistrationInfo")
    el(info, "Description", job.what)
    el(info, "URI", f"{TASK_FOLDER}{job.name}")
    trigger = el(el(task, "Triggers"), "TimeTrigger")
    el(trigger, "StartBoundary", job.at.isoformat(timespec="seconds"))
    if job.kind in ("check", "readiness"):  # a check after its window is no such check; a push is welcome any time
        el(trigger, "EndBoundary", (job.ends or job.start).isoformat(timespec="seconds"))
    el(trigger, "Enabled", "true")
    principal = el(el(task, "Principals"), "Principal", id="Author")
    el(principal, "LogonType", "S4U")
    el(principal, "RunLevel", "HighestAvailable")
    settings = el(task, "Settings")
    for tag, text in (("MultipleInstancesPolicy", "IgnoreNew"), ("DisallowStartIfOnBatteries", "false"),
                      ("StopIfGoingOnBatteries", "false"), ("StartWhenAvailable", "true"),
                      ("ExecutionTimeLimit", "PT30M"), ("Enabled", "true"), ("WakeToRun", "true")):
        el(settings, tag, text)
    if job.kind == "push":
        restart = el(settings, "RestartOnFailure")
        el(restart, "Interval", "PT10M")
        el(restart, "Count", "36")
    exec_ = el(el(task, "Actions", Context="Author"), "Exec")
    el(exec_, "Command", command[0])
    el(exec_, "Arguments", " ".join(_win_quote(a) for a in [*command[1:], *job.action]))
    ET.indent(task)
    return ('<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")).encode("utf-16")


def _win_quote(arg: str) -> str:
    if arg and not re.search(r'[\s"]', arg):
        return arg
    return '"' + re.sub(r'(\\*)"', r'\1\1\\"', re.sub(r"(\\+)$", r"\1\1", arg)) + '"'


def schtasks_create(job: Job, xml_path: Path) -> list[str]:
    return ["schtasks", "/Create", "/TN", f"{TASK_FOLDER}{job.name}", "/XML", str(xml_path), "/F"]


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
    words = [python, "-m", "ppe_tech"]
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

