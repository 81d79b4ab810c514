"""Scheduling the pre-exam check (systemd timers, Task Scheduler XML, `due`) and `check watch`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checks import schedule as sch
from checks.watch import Change, journal_text
from conftest import PPE_SECTION, ROOT, host_tool, subprocess_env, toml_str, wait_for

MSK = ZoneInfo("Europe/Moscow")


# systemd timers are the Linux backend; on Windows `schedule sync` writes Task Scheduler XML
# (tested against recorded schtasks output; Wine's schtasks is a silent stub)
LINUX_SCHEDULER = pytest.mark.skipif(sys.platform != "linux", reason="systemd timers: the Linux backend of schedule sync")


def exams_config(home: Path, exams: list[tuple[str, datetime, str]], extra: str = "") -> Path:
    text = '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n' + extra
    for exam_id, start, before in exams:
        text += (f'[[exams]]\nid = "{exam_id}"\nsubject = "Предмет {exam_id}"\nstart = "{start:%Y-%m-%dT%H:%M}"\n'
                 f'precheck_before = "{before}"\n')
    path = home / "ppe-tech.toml"
    path.write_text(text, encoding="utf-8")
    return path


@LINUX_SCHEDULER
def test_sync_writes_timers_that_systemd_accepts_and_reconciles(ppe, home, tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    (units / "backup.timer").write_text("[Timer]\nOnCalendar=daily\n", encoding="utf-8")  # not ours: untouched
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h"), ("rus", datetime(2031, 6, 4, 10, 0), "90m"),
                        ("past", datetime(2020, 6, 1, 10, 0), "2h")])
    r = ppe("schedule", "sync", "--unit-dir", units, "--dry-run", "--json")
    assert r.code == 0 and r.json["dry_run"]
    per_exam = ("ppe-tech-check-{e}", "ppe-tech-ready-{e}", "ppe-tech-record-start-{e}", "ppe-tech-record-stop-{e}")
    expected = sorted([f"{n.format(e=e)}.{k}" for e in ("math", "rus") for n in per_exam for k in ("service", "timer")]
                      + ["ppe-tech-resume.service"])
    assert r.json["add"] == expected
    assert sorted(p.name for p in units.iterdir()) == ["backup.timer"]  # a dry run writes nothing
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.code == 0 and r.json["add"] == expected
    timer = (units / "ppe-tech-check-math.timer").read_text(encoding="utf-8")
    assert "OnCalendar=2031-06-01 08:00:00 Europe/Moscow\n" in timer
    assert "AccuracySec=1s\n" in timer and "Persistent=true\n" in timer
    assert "OnCalendar=2031-06-04 08:30:00 Europe/Moscow" in (units / "ppe-tech-check-rus.timer").read_text()
    # the recording window: 1 h before the start, 1 h after the end (3 h 55 min)
    assert "OnCalendar=2031-06-01 09:00:00 Europe/Moscow" in (units / "ppe-tech-record-start-math.timer").read_text()
    assert "OnCalendar=2031-06-01 14:55:00 Europe/Moscow" in (units / "ppe-tech-record-stop-math.timer").read_text()
    service = (units / "ppe-tech-check-math.service").read_text(encoding="utf-8")
    assert "schedule due --exam math" in service and sys.executable in service
    assert "KillMode=process" not in service
    recording = (units / "ppe-tech-record-start-math.service").read_text(encoding="utf-8")
    assert "KillMode=process" in recording  # the supervisor it starts outlives the oneshot
    assert "schedule due --exam math --stage recording" in recording
    boot = (units / "ppe-tech-resume.service").read_text(encoding="utf-8")
    assert "recorder resume" in boot and "WantedBy=multi-user.target" in boot and "Restart=on-failure" in boot
    assert "After=network-online.target" in boot and "Wants=network-online.target" in boot
    if shutil.which("systemd-analyze"):
        every = sorted(str(p) for p in units.iterdir() if p.name.startswith("ppe-tech-"))
        check = subprocess.run(["systemd-analyze", "verify", "--man=no", *every], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
        cal = subprocess.run(["systemd-analyze", "calendar", "2031-06-01 08:00:00 Europe/Moscow"],
                             capture_output=True, text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
        assert "2031-06-01 05:00:00 UTC" in cal.stdout, cal.stdout  # 08:00 in Moscow
    r = ppe("schedule", "list", "--unit-dir", units, "--json")
    listed = {j["name"]: j["at"] for j in r.json["jobs"]}
    assert listed["ppe-tech-check-math"] == "2031-06-01 08:00:00 Europe/Moscow"
    assert listed["ppe-tech-check-rus"] == "2031-06-04 08:30:00 Europe/Moscow"
    assert listed["ppe-tech-ready-math"] == "2031-05-31 10:00:00 Europe/Moscow"  # the day before
    assert listed["ppe-tech-resume"] == "boot" and all(j["in_config"] for j in r.json["jobs"])
    # the math exam moves, the Russian one is dropped: the math timers updated, the Russian jobs removed
    exams_config(home, [("math", datetime(2031, 6, 1, 11, 0), "2h")])
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.json["update"] == sorted(f"{n.format(e='math')}.timer" for n in per_exam)
    assert "ppe-tech-check-math.service" in r.json["unchanged"] and "ppe-tech-resume.service" in r.json["unchanged"]
    assert r.json["remove"] == sorted(f"{n.format(e='rus')}.{k}" for n in per_exam for k in ("service", "timer"))
    assert "OnCalendar=2031-06-01 09:00:00 Europe/Moscow" in (units / "ppe-tech-check-math.timer").read_text()
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.json["add"] == r.json["update"] == r.json["remove"] == []
    r = ppe("schedule", "remove", "--unit-dir", units, "--json")
    assert len(r.json["removed"]) == 9 and sorted(p.name for p in units.iterdir()) == ["backup.timer"]


@LINUX_SCHEDULER
def test_dry_run_prints_every_command_it_would_run(ppe, home, tmp_path):
    """Without --unit-dir the sync activates units: the dry run names each systemctl call and
    what each job runs, and changes nothing."""
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h")])
    r = ppe("schedule", "sync", "--dry-run", "--user", "--json")
    assert r.code == 0, r.err
    commands = [" ".join(c) for c in r.json["commands"]]
    assert commands[0] == "systemctl --user daemon-reload"
    assert any(c.startswith("systemctl --user enable --now ") and "ppe-tech-record-start-math.timer" in c
               for c in commands)
    assert "systemctl --user enable ppe-tech-resume.service" in commands
    assert r.json["boot"][-2:] == ["recorder", "resume"]
    kinds = {j["kind"]: j for j in r.json["jobs"]}
    assert set(kinds) == {"check", "readiness", "record-start", "record-stop"}
    assert kinds["record-start"]["runs"][-5:] == ["due", "--exam", "math", "--stage", "recording"]
    text = ppe("schedule", "sync", "--dry-run", "--user")
    assert "Would run:" in text.out and "recorder resume" in text.out and "record-start-math" in text.out
    assert not (home / "xdg-config" / "systemd").exists()


@LINUX_SCHEDULER
def test_push_jobs_after_each_exam_when_a_regional_database_is_set(ppe, home, tmp_path):
    units = tmp_path / "units"
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h")],
                 extra='[region]\ndb = "postgresql://ppe_0123@rcoi.example/journals"\n')
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.code == 0 and r.json["add"] == sorted(
        [f"ppe-tech-{k}-math.{s}" for k in ("check", "push", "ready", "record-start", "record-stop")
         for s in ("service", "timer")] + ["ppe-tech-resume.service"])
    assert "journal push at 01.06.2031 14:25" in ppe("schedule", "sync", "--unit-dir", units, "--dry-run").out
    timer = (units / "ppe-tech-push-math.timer").read_text(encoding="utf-8")
    assert "OnCalendar=2031-06-01 14:25:00 Europe/Moscow\n" in timer  # 10:00 + 3h55m + 30 min
    service = (units / "ppe-tech-push-math.service").read_text(encoding="utf-8")
    assert service.split("ExecStart=")[1].split("\n")[0].endswith(" journal push")
    assert "Restart=on-failure\nRestartSec=10min\n" in service and "StartLimitIntervalSec=0\n" in service
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(units / "ppe-tech-push-math.timer"),
                                str(units / "ppe-tech-push-math.service")], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    names = {j["name"]: j["in_config"] for j in ppe("schedule", "list", "--unit-dir", units, "--json").json["jobs"]}
    assert names == {"ppe-tech-check-math": True, "ppe-tech-push-math": True, "ppe-tech-ready-math": True,
                     "ppe-tech-record-start-math": True, "ppe-tech-record-stop-math": True, "ppe-tech-resume": True}
    r = ppe("schedule", "remove", "--exam", "math", "--unit-dir", units, "--json")
    assert len(r.json["removed"]) == 10 and [p.name for p in units.iterdir()] == ["ppe-tech-resume.service"]

    job = sch.Job("math", "", datetime(2031, 6, 1, 14, 25, tzinfo=MSK), datetime(2031, 6, 1, 10, 0, tzinfo=MSK), "push")
    root = ET.fromstring(sch.task_xml(job, ["python.exe", "-m", "ppe_tech"]).decode("utf-16").split("\n", 1)[1])
    ns = {"t": sch.TASK_NS}
    trigger = root.find("t:Triggers/t:TimeTrigger", ns)
    assert trigger.find("t:StartBoundary", ns).text == "2031-06-01T14:25:00+03:00"
    assert trigger.find("t:EndBoundary", ns) is None  # a late push is still welcome
    assert root.find("t:Settings/t:RestartOnFailure/t:Interval", ns).text == "PT10M"
    assert root.find("t:Actions/t:Exec/t:Arguments", ns).text == "-m ppe_tech journal push"
    assert sch.parse_schtasks_query('"\\ppe-tech\\ppe-tech-push-math","N/A","Ready"\r\n') == ["ppe-tech-push-math"]


def test_task_scheduler_xml_has_the_right_boundaries():
    job = sch.Job("math", "Математика", datetime(2031, 6, 1, 8, 0, tzinfo=MSK), datetime(2031, 6, 1, 10, 0, tzinfo=MSK))
    raw = sch.task_xml(job, [r"C:\Program Files\Python312\python.exe", "-m", "ppe_tech", "--data-dir",
                             r"C:\ProgramData\ppe-tech"])
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with a BOM, as schtasks /XML expects
    root = ET.fromstring(raw.decode("utf-16").split("\n", 1)[1])
    ns = {"t": sch.TASK_NS}
    trigger = root.find("t:Triggers/t:TimeTrigger", ns)
    assert trigger.find("t:StartBoundary", ns).text == "2031-06-01T08:00:00+03:00"
    assert trigger.find("t:EndBoundary", ns).text == "2031-06-01T10:00:00+03:00"
    assert root.find("t:Settings/t:StartWhenAvailable", ns).text == "true"
    assert root.find("t:RegistrationInfo/t:URI", ns).text == r"\ppe-tech\ppe-tech-check-math"
    exec_ = root.find("t:Actions/t:Exec", ns)
    assert exec_.find("t:Command", ns).text == r"C:\Program Files\Python312\python.exe"
    assert exec_.find("t:Arguments", ns).text == (r"-m ppe_tech --data-dir C:\ProgramData\ppe-tech schedule due --exam math "
                                                  "--stage precheck")
    assert sch.schtasks_create(job.name, Path("x.xml"))[:4] == ["schtasks", "/Create", "/TN", r"\ppe-tech\ppe-tech-check-math"]
    listing = ('"\\ppe-tech\\ppe-tech-check-math","01.06.2031 8:00:00","Ready"\r\n'
               '"\\Microsoft\\Windows\\Defrag\\ScheduledDefrag","N/A","Ready"\r\n'
               '"\\ppe-tech\\ppe-tech-check-rus","04.06.2031 8:30:00","Ready"\r\n')
    assert sch.parse_schtasks_query(listing) == ["ppe-tech-check-math", "ppe-tech-check-rus"]


def test_task_scheduler_records_in_the_window_and_resumes_at_start_up():
    opens, closes = datetime(2031, 6, 1, 9, 0, tzinfo=MSK), datetime(2031, 6, 1, 14, 55, tzinfo=MSK)
    ns = {"t": sch.TASK_NS}

    def parsed(raw: bytes):
        return ET.fromstring(raw.decode("utf-16").split("\n", 1)[1])
    start = parsed(sch.task_xml(sch.Job("math", "", opens, closes, "record-start"), ["py.exe", "-m", "ppe_tech"]))
    trigger = start.find("t:Triggers/t:TimeTrigger", ns)
    assert trigger.find("t:StartBoundary", ns).text == "2031-06-01T09:00:00+03:00"
    assert trigger.find("t:EndBoundary", ns).text == "2031-06-01T14:55:00+03:00"  # not after the window
    assert start.find("t:RegistrationInfo/t:URI", ns).text == r"\ppe-tech\ppe-tech-record-start-math"
    assert start.find("t:Actions/t:Exec/t:Arguments", ns).text == "-m ppe_tech schedule due --exam math --stage recording"
    stop = parsed(sch.task_xml(sch.Job("math", "", closes, closes, "record-stop"), ["py.exe", "-m", "ppe_tech"]))
    assert stop.find("t:Triggers/t:TimeTrigger/t:EndBoundary", ns) is None  # a late stop still stops
    boot = parsed(sch.resume_task_xml(["py.exe", "-m", "ppe_tech"]))
    assert boot.find("t:Triggers/t:BootTrigger/t:Delay", ns).text == "PT30S"
    assert boot.find("t:Actions/t:Exec/t:Arguments", ns).text == "-m ppe_tech recorder resume"
    assert boot.find("t:Settings/t:RestartOnFailure/t:Interval", ns).text == "PT1M"
    listing = '"\\ppe-tech\\ppe-tech-resume","N/A","Ready"\r\n"\\ppe-tech\\ppe-tech-record-stop-math","N/A","Ready"\r\n'
    assert sch.parse_schtasks_query(listing) == ["ppe-tech-record-stop-math", "ppe-tech-resume"]


@pytest.mark.skipif(sys.platform != "win32", reason="Task Scheduler: the Windows backend of schedule sync")
def test_sync_on_windows_creates_the_tasks_and_the_boot_time_resume(ppe, home, schtasks):
    calls, installed = schtasks
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h")])
    r = ppe("schedule", "sync", "--json")
    assert r.code == 0, r.err
    names = ["ppe-tech-check-math", "ppe-tech-ready-math", "ppe-tech-record-start-math", "ppe-tech-record-stop-math",
             "ppe-tech-resume"]
    assert r.json["add"] == sorted(f"{n}.xml" for n in names)
    folder = home / "data" / "schedule"
    created = {c[c.index("/TN") + 1]: c[c.index("/XML") + 1] for c in calls if c[0] == "/Create"}
    assert created == {f"\\ppe-tech\\{n}": str(folder / f"{n}.xml") for n in names}
    ns = {"t": sch.TASK_NS}
    boot = ET.fromstring((folder / "ppe-tech-resume.xml").read_bytes().decode("utf-16").split("\n", 1)[1])
    assert boot.find("t:Triggers/t:BootTrigger/t:Delay", ns).text == "PT30S"
    assert boot.find("t:Triggers/t:TimeTrigger", ns) is None
    assert boot.find("t:Actions/t:Exec/t:Arguments", ns).text.endswith("recorder resume")
    assert boot.find("t:Actions/t:Exec/t:Command", ns).text == sys.executable
    # installed and unchanged: nothing is created again; an exam gone from the config is deleted
    installed += names
    calls.clear()
    r = ppe("schedule", "sync", "--json")
    assert r.code == 0 and r.json["add"] == [] and r.json["unchanged"] == sorted(f"{n}.xml" for n in names)
    assert [c[0] for c in calls] == ["/Query"]
    exams_config(home, [])
    calls.clear()
    r = ppe("schedule", "sync", "--json")
    assert r.code == 0 and r.json["remove"] == sorted(f"{n}.xml" for n in names if n != "ppe-tech-resume")
    assert sorted(c[c.index("/TN") + 1] for c in calls if c[0] == "/Delete") == sorted(
        f"\\ppe-tech\\{n}" for n in names if n != "ppe-tech-resume")
    assert [p.name for p in folder.iterdir()] == ["ppe-tech-resume.xml"]


@pytest.mark.skipif(sys.platform != "win32", reason="Task Scheduler: the Windows backend of schedule sync")
def test_sync_on_windows_with_unit_dir_writes_the_tasks_and_registers_none(ppe, home, tmp_path, schtasks):
    """--unit-dir on Windows as on Linux: the jobs written to DIR, not activated (no schtasks call);
    list and remove work on DIR; --user, a systemd word, is refused rather than ignored."""
    calls, _installed = schtasks
    units = tmp_path / "tasks"
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h")])
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.code == 0 and r.json["commands"] == [], r.err
    names = sorted(["ppe-tech-check-math", "ppe-tech-ready-math", "ppe-tech-record-start-math",
                    "ppe-tech-record-stop-math", "ppe-tech-resume"])
    assert sorted(f.stem for f in units.iterdir()) == names and calls == []
    assert not (home / "data" / "schedule").exists()
    again = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert again.json["add"] == [] and again.json["unchanged"] == [f"{n}.xml" for n in names]
    listed = ppe("schedule", "list", "--unit-dir", units, "--json").json["jobs"]
    assert [j["name"] for j in listed] == names and all(j["in_config"] for j in listed)
    r = ppe("schedule", "remove", "--exam", "math", "--unit-dir", units, "--json")
    assert r.code == 0 and sorted(r.json["removed"]) == [n for n in names if n != "ppe-tech-resume"]
    assert [f.stem for f in units.iterdir()] == ["ppe-tech-resume"] and calls == []
    refused = ppe("schedule", "sync", "--user", "--dry-run")
    assert refused.code == 2 and "--user is for systemd" in refused.err and calls == []


def test_due_runs_once_in_the_window_and_reports_a_missed_check(ppe, home):
    now = datetime.now(MSK).replace(second=0, microsecond=0, tzinfo=None)
    exams_config(home, [("soon", now + timedelta(hours=1), "2h"), ("later", now + timedelta(days=3), "2h"),
                        ("started", now - timedelta(minutes=30), "2h")], extra="[checks]\ntimeout = \"5s\"\n")
    r = ppe("schedule", "due", "--exam", "later", "--json")
    assert r.code == 0 and r.json["exams"][0]["state"] == "early"
    r = ppe("schedule", "due", "--exam", "soon", "--stage", "precheck", "--json")
    row = r.json["exams"][0]
    assert row["state"] == "ran" and Path(row["pdf"]).exists()
    reports = list((home / "data" / "checks" / "reports").glob("*_soon.json"))
    assert len(reports) == 1
    r = ppe("schedule", "due", "--exam", "soon", "--stage", "precheck", "--json")
    assert r.json["exams"][0]["state"] == "done"  # not twice
    r = ppe("schedule", "due", "--exam", "started", "--stage", "precheck", "--json")
    assert r.code == 1 and r.json["exams"][0]["state"] == "missed"
    assert not list((home / "data" / "checks" / "reports").glob("*_started.json"))  # never run late


@pytest.fixture
def schtasks(monkeypatch):
    """Windows: the schtasks calls `schedule sync` makes, recorded instead of run (Wine's schtasks
    is a silent stub that fails every /Create); /Query lists what `installed` names."""
    from ppe_tech.commands import schedule as command

    calls: list[tuple[str, ...]] = []
    installed: list[str] = []

    def fake(*args: str) -> str:
        calls.append(args)
        return "".join(f'"\\ppe-tech\\{n}","N/A","Ready"\r\n' for n in installed) if args[0] == "/Query" else ""
    monkeypatch.setattr(command, "_schtasks", fake)
    return calls, installed


def test_the_day_before_gets_its_own_full_check_with_its_own_protocol(ppe, home, tmp_path, request):
    units = tmp_path / "units"
    exams_config(home, [("math", datetime(2031, 6, 1, 10, 0), "2h")])
    if sys.platform == "win32":
        request.getfixturevalue("schtasks")
    r = ppe("schedule", "sync", "--unit-dir", units, "--json")
    assert r.code == 0, r.err
    ready = {j["kind"]: j for j in r.json["jobs"]}["readiness"]
    assert ready["at"] == "2031-05-31T10:00:00+03:00"  # readiness_before: one day by default
    if sys.platform == "win32":  # a Task Scheduler task; its XML is checked below
        assert "ppe-tech-ready-math.xml" in r.json["add"]
        assert (units / "ppe-tech-ready-math.xml").read_bytes()[:2] == b"\xff\xfe"
    else:
        assert "ppe-tech-ready-math.timer" in r.json["add"]
        timer = (units / "ppe-tech-ready-math.timer").read_text(encoding="utf-8")
        service = (units / "ppe-tech-ready-math.service").read_text(encoding="utf-8")
        assert "OnCalendar=2031-05-31 10:00:00 Europe/Moscow\n" in timer and "Persistent=true" in timer
        assert "schedule due --exam math --stage readiness" in service
        assert "schedule due --exam math --stage precheck" in (units / "ppe-tech-check-math.service").read_text()
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(units / "ppe-tech-ready-math.timer"),
                                str(units / "ppe-tech-ready-math.service")], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    # Task Scheduler: it expires when the pre-check's window opens (an hour before the pre-check)
    job = next(j for j in sch.jobs_for(load_exams(home), MSK, datetime(2031, 5, 1, tzinfo=MSK)) if j.kind == "readiness")
    root = ET.fromstring(sch.task_xml(job, ["python.exe", "-m", "ppe_tech"]).decode("utf-16").split("\n", 1)[1])
    ns = {"t": sch.TASK_NS}
    assert root.find("t:Triggers/t:TimeTrigger/t:StartBoundary", ns).text == "2031-05-31T10:00:00+03:00"
    assert root.find("t:Triggers/t:TimeTrigger/t:EndBoundary", ns).text == "2031-06-01T07:00:00+03:00"
    assert root.find("t:RegistrationInfo/t:URI", ns).text == r"\ppe-tech\ppe-tech-ready-math"
    assert root.find("t:Actions/t:Exec/t:Arguments", ns).text.endswith("schedule due --exam math --stage readiness")
    # once the pre-check's window is near, the readiness job is no longer installed
    assert [j.kind for j in sch.jobs_for(load_exams(home), MSK, datetime(2031, 6, 1, 7, 30, tzinfo=MSK))] == [
        "check", "record-start", "record-stop"]


def load_exams(home: Path):
    from ppe_tech.config import load_config

    return load_config(home / "ppe-tech.toml", explicit=True).exams


def test_due_runs_the_readiness_check_the_day_before(ppe, home):
    now = datetime.now(MSK).replace(second=0, microsecond=0, tzinfo=None)
    (home / "tiny.toml").write_text('title = "Станция для теста"\nchecks = ["system.resources"]\n'
                                    'required = ["system.resources"]\n', encoding="utf-8")
    exams_config(home, [("tomorrow", now + timedelta(hours=20), "2h")], extra='[checks]\nprofile = "tiny.toml"\n')
    r = ppe("schedule", "due", "--exam", "tomorrow", "--json")
    assert r.code == 0, r.out + r.err
    (row,) = r.json["exams"]  # one row per exam; the day before inside it
    assert row["stage"] == "precheck" and row["state"] == "early"
    assert row["readiness"]["stage"] == "readiness" and row["readiness"]["state"] == "ran"
    pdf = Path(row["readiness"]["pdf"])
    assert pdf.name == "readiness_tomorrow.pdf" and pdf.exists()
    text = " ".join(subprocess.run([host_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True).stdout.split())
    assert "Протокол проверки рабочей станции ППЭ" in text and "Техническая подготовка (накануне экзамена)" in text
    assert "Итог проверки: ГОТОВ" in text
    (report,) = (home / "data" / "checks" / "reports").glob("*_tomorrow.json")
    import json as _json
    kept = _json.loads(report.read_text(encoding="utf-8"))
    assert kept["stage"] == "readiness" and kept["full"] and kept["ready"]
    r = ppe("schedule", "due", "--exam", "tomorrow", "--stage", "readiness", "--json")
    assert r.json["exams"] == [{"exam": "tomorrow", "stage": "readiness", "at": row["readiness"]["at"],
                                "state": "done", "protocol_dir": str(home / "data" / "checks")}]  # not twice
    r = ppe("schedule", "due", "--exam", "tomorrow")
    assert "tomorrow: technical preparation made already" in r.out and "tomorrow: the check is due at" in r.out
    # the day's plan: the technical preparation done, the pre-check still ahead
    plan = ppe("exam", "plan", "--exam", "tomorrow", "--json")
    states = {s["step"]: s["state"] for s in plan.json["steps"]}
    assert states["readiness"] == "done" and states["precheck"] == "next"


def test_journal_text_of_a_batch():
    at = datetime(2026, 6, 1, 10, 5, tzinfo=MSK)
    batch = [Change("modified", "/opt/exam/config.ini", at), Change("created", "/opt/exam/bin/x.exe", at)] + \
        [Change("deleted", f"/opt/exam/f{i}", at) for i in range(5)]
    text = journal_text(batch)
    assert text.startswith("Изменение файлов ПО экзамена: изменён exam/config.ini; создан bin/x.exe; удалён exam/f0")
    assert text.endswith("(+3)")


def test_check_watch_records_changes_and_survives_the_folder_recreated(tmp_path):
    exam = tmp_path / "exam-station"
    exam.mkdir()
    config = tmp_path / "ppe-tech.toml"
    config.write_text(PPE_SECTION + f'[checks]\nexam_software = [{toml_str(exam)}]\n', encoding="utf-8")
    env = subprocess_env(PPE_TECH_CONFIG=str(config), PPE_TECH_DATA=str(tmp_path / "data"))
    cli = [sys.executable, "-m", "ppe_tech"]
    subprocess.run([*cli, "keys", "create", "--station"], env=env, cwd=ROOT, check=True, capture_output=True)
    proc = subprocess.Popen([*cli, "check", "watch", "--for", "30s"], env=env, cwd=ROOT, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert "Watching" in proc.stderr.readline()
        time.sleep(0.5)
        (exam / "config.ini").write_text("host=10.0.0.1\n", encoding="utf-8")
        time.sleep(1.5)
        shutil.rmtree(exam)
        time.sleep(1.5)
        # Windows: a folder deleted while a watcher holds it open stays "delete pending" (WinError 183
        # on mkdir) until the watcher lets go of it, as an installer recreating it would see too
        assert wait_for(lambda: _made(exam), 10), "the deleted folder could not be made again"
        time.sleep(1.0)
        (exam / "after.exe").write_bytes(b"MZ")
        time.sleep(2.5)
    finally:
        if sys.platform == "win32":  # no SIGTERM to send (terminate() is TerminateProcess): its --for ends it
            _out, err = proc.communicate(timeout=60)
        else:
            proc.terminate()  # SIGTERM stops it cleanly, like Ctrl-C
            _out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Stopped:" in err and str(exam / "after.exe") in err
    listed = subprocess.run([*cli, "journal", "list", "--json"], env=env, cwd=ROOT, check=True, capture_output=True,
                            text=True)
    actions = " ".join(e["action"] for e in json.loads(listed.stdout)["entries"])
    assert "создан exam-station/config.ini" in actions and "создан exam-station/after.exe" in actions
    log = [json.loads(line) for line in (tmp_path / "data" / "checks" / "watch.log").read_text().splitlines()]
    assert {"kind": "deleted", "path": str(exam)} in [{"kind": c["kind"], "path": c["path"]} for c in log]


def _made(folder) -> bool:
    try:
        folder.mkdir()
        return True
    except (FileExistsError, PermissionError):
        return False


@pytest.mark.parametrize("args,needle", [(["check", "watch"], "checks.exam_software")])
def test_watch_without_folders_is_bad_input(ppe, args, needle):
    r = ppe(*args)
    assert r.code == 2 and needle in r.err and len(r.err_lines()) == 1


def test_watch_of_a_folder_that_does_not_exist_says_so(ppe, home):
    (home / "ppe-tech.toml").write_text(f'[checks]\nexam_software = [{toml_str(home / "not-installed")}]\n', encoding="utf-8")
    r = ppe("check", "watch", "--for", "1s")
    assert r.code == 2 and "no such folder" in r.err and "not-installed" in r.err and len(r.err_lines()) == 1
