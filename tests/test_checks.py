"""The pre-exam check: verdicts, timeouts, outputs, built-in checks and the antivirus adapters."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from conftest import UNDER_WINE, WINE_NO_SYMLINKS, host_tool, toml_str, wait_for

from checks import antivirus, localclam, network, software, system, versions
from checks.builtin import Context, antivirus_status
from checks.model import Check, CheckTimeout, Commands, Status, passed
from checks.runner import run_checks
from ppe_tech.config import load_config

DATA = Path(__file__).parent / "data" / "av"
# the EICAR test file, assembled so that this source file itself is not flagged
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-" + "TEST-FILE!$H+H*").encode("ascii")


def write_config(home: Path, text: str) -> Path:
    path = home / "ppe-tech.toml"
    path.write_text('[ppe]\nregion = "77"\ncode = "0123"\nname = "ГБОУ Школа № 1"\ntimezone = "Europe/Moscow"\n'
                    + text, encoding="utf-8")
    return path


def config_of(home: Path, text: str = ""):
    return load_config(write_config(home, text), explicit=True)


# -- versions and the runner ------------------------------------------------------------------

def test_versions_from_tool_output_and_constraints():
    assert versions.find_version("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024") == "5.1.6"
    assert versions.find_version("ClamAV 1.0.7/27450/Tue Nov 24 09:23:02 2026") == "1.0.7"
    assert versions.find_version("no digits here") is None
    assert versions.satisfies("5.1.6", ">=5.0") and not versions.satisfies("4.4.2", ">=5.0")
    assert versions.satisfies("1.5", ">=1.2,<2") and not versions.satisfies("2.0", ">=1.2,<2")
    assert versions.satisfies("1.2.9", "~=1.2") and not versions.satisfies("1.3", "~=1.2.0")
    assert versions.satisfies("7", "==7.0.0") and versions.satisfies("3.11.2", "!=3.11.1")


def test_a_hung_check_ends_as_error_and_the_run_ends_on_time():
    release = threading.Event()

    def hangs(ctx, cmds):  # ignores its deadline entirely
        release.wait(30)
        return passed("never")

    def quick(ctx, cmds):
        return passed("fine")

    def broken(ctx, cmds):
        raise KeyError("boom")
    checks = [Check("t.hang", "Hangs", "Зависает", hangs), Check("t.quick", "Quick", "Быстро", quick),
              Check("t.broken", "Broken", "Сломана", broken)]
    started = time.monotonic()
    results = run_checks(checks, None, default_timeout=1.0)
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 1.5, elapsed
    by = {r.id: r for r in results}
    assert [r.id for r in results] == ["t.hang", "t.quick", "t.broken"]
    assert by["t.hang"].status == Status.ERROR and "timed out after 1 s" in by["t.hang"].message
    assert by["t.quick"].status == Status.PASS
    assert by["t.broken"].status == Status.ERROR and "KeyError" in by["t.broken"].message


def test_commands_kill_a_hanging_program_at_the_deadline(tmp_path):
    marker = f"ppe-hang-{os.getpid()}"
    cmds = Commands(time.monotonic() + 0.8)
    started = time.monotonic()
    with pytest.raises(CheckTimeout):
        cmds.run([sys.executable, "-c", f"import subprocess, sys; subprocess.run(['{host_tool('sleep')}', '30', '{marker}'[:0] or '30'])"
                  f"  # {marker}"])
    assert time.monotonic() - started < 2
    time.sleep(0.2)
    leftovers = [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert not leftovers  # the child and its own child are gone


# -- the command ------------------------------------------------------------------------------

def test_unknown_check_id_is_bad_input_listing_valid_ids(ppe):
    r = ppe("check", "run", "--only", "system.disk,antivirus.sacn")
    assert r.code == 2
    lines = r.err_lines()
    assert len(lines) == 1 and "'antivirus.sacn'" in lines[0] and "antivirus.scan" in lines[0]


def test_bad_version_constraint_names_file_and_line(ppe, home):
    write_config(home, '[checks]\ntimeout = "5s"\n\n[[checks.required]]\nname = "ffmpeg"\n'
                       'command = ["ffmpeg", "-version"]\nversion = ">= five"\n')
    r = ppe("check", "run")
    assert r.code == 2
    assert "ppe-tech.toml:12: checks.required[1].version" in r.err, r.err  # 1-based, as people count


def test_zero_configuration_run_finishes_with_a_verdict_per_check(ppe):
    from checks.builtin import CHECKS
    from checks.profile import load

    r = ppe("check", "run", "--json", "--no-journal")
    assert r.code in (0, 1)
    doc = r.json
    station = load("station").checks  # the default profile: every check of the first version, and the minimums
    assert [c["id"] for c in doc["checks"]] == station and doc["profile"]["name"] == "station"
    assert set(station) >= {c.id for c in CHECKS} - {"software.list", "files.open", "network.isolated"}
    assert all(c["status"] in ("pass", "warn", "fail", "skip", "error") and c["message"] for c in doc["checks"])
    assert all(isinstance(c["duration_ms"], int) for c in doc["checks"])
    assert doc["status"] in ("pass", "warn", "fail", "error")


def test_required_software_found_missing_wrong_version_and_hung(ppe, home):
    write_config(home, '[checks]\ntimeout = "2s"\n'
                       '[[checks.required]]\nname = "ffmpeg"\ncommand = ["ffmpeg", "-version"]\nversion = ">=4.0"\n')
    r = ppe("check", "run", "--only", "software.required", "--json", "--no-journal")
    assert r.code == 0, r.out
    assert r.json["checks"][0]["status"] == "pass" and "ffmpeg" in r.json["checks"][0]["message"]
    write_config(home, '[checks]\ntimeout = "2s"\n'
                       '[[checks.required]]\nname = "ffmpeg"\ncommand = ["ffmpeg", "-version"]\nversion = ">=999"\n'
                       '[[checks.required]]\nname = "Станция печати"\ncommand = ["no-such-program-ppe"]\n'
                       '[[checks.required]]\nname = "КЕГЭ"\npath = "/nonexistent/kege.exe"\n')
    r = ppe("check", "run", "--only", "software.required", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail"
    assert "ffmpeg" in check["message"] and "Станция печати" in check["message"] and "КЕГЭ" in check["message"]
    assert any(">=999 required" in d for d in check["details"])
    write_config(home, '[checks]\ntimeout = "1s"\n'
                       f'[[checks.required]]\nname = "hangs"\ncommand = [{toml_str(sys.executable)}, "-c", '
                       '"import time; time.sleep(60)"]\n')
    started = time.monotonic()
    r = ppe("check", "run", "--only", "software.required", "--json", "--no-journal")
    assert time.monotonic() - started < 2.5
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "error" and "timed out" in check["message"]


def test_forbidden_process_is_caught(ppe, home, tmp_path):
    fake = tmp_path / "AnyDesk"
    shutil.copy(shutil.which(host_tool("sleep")), fake)
    extra = tmp_path / "someapp"
    shutil.copy(shutil.which("sleep"), extra)
    write_config(home, '[checks]\nforbidden_processes = ["someapp"]\n')
    procs = [subprocess.Popen([str(fake), "30"]), subprocess.Popen([str(extra), "30"])]
    try:
        r = ppe("check", "run", "--only", "software.forbidden", "--json", "--no-journal")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail"
    assert "AnyDesk" in check["message"] and "someapp" in check["message"]
    assert any(f"pid {procs[0].pid}" in d for d in check["details"])
    r = ppe("check", "run", "--only", "software.forbidden", "--json", "--no-journal")
    assert r.json["checks"][0]["status"] == "pass"


def test_a_process_that_ends_while_it_is_listed_breaks_no_check(monkeypatch, home):
    """Windows (seen under Wine in the demo): reading a process that just exited can raise a plain
    OSError ("Invalid handle"), which psutil passes on; the listing goes on without it."""
    class Proc:
        def __init__(self, pid, name, exe):
            self.pid, self.name, self.exe = pid, name, exe

        def as_dict(self, attrs):
            (attr,) = attrs
            if attr == "pid":
                return {"pid": self.pid}
            value = getattr(self, attr)
            if isinstance(value, BaseException):
                raise value
            return {attr: value}
    listed = [Proc(10, "explorer.exe", OSError(6, "Invalid handle")), Proc(11, psutil.NoSuchProcess(11), None),
              Proc(12, "AnyDesk.exe", r"C:\Program Files\AnyDesk\AnyDesk.exe"),
              Proc(13, "x.exe", psutil.AccessDenied(13))]
    monkeypatch.setattr(psutil, "process_iter", lambda *a, **k: iter(listed))
    ctx = Context(config=load_config(write_config(home, ""), explicit=True), data_dir=home, recordings_dir=home)
    out = software.forbidden(ctx, Commands())
    assert out.status == Status.FAIL and out.data["found"] == {"AnyDesk": ["AnyDesk.exe (pid 12)"]}, out


def test_forbidden_names_match_windows_and_prefixes():
    match, count = software.matcher(["KEGE-Spy"])
    assert match("TeamViewer.exe") == "TeamViewer" and match("AnyDesk.exe") == "AnyDesk"
    assert match("Telegram") == "Telegram" and match("rutserv.exe") == "Remote Utilities (RMS)"
    assert match("kege-spy.EXE") == "KEGE-Spy" and match("explorer.exe") is None and match("python3") is None
    assert count > 20


def test_baseline_lists_added_changed_removed_and_a_forged_baseline(ppe, home, people, tmp_path):
    exam = tmp_path / "exam-station"
    (exam / "bin").mkdir(parents=True)
    (exam / "bin" / "station.exe").write_bytes(b"MZ" + bytes(5000))
    (exam / "config.ini").write_text("[server]\nhost=10.0.0.1\n", encoding="utf-8")
    (exam / "old.dll").write_bytes(b"old")
    write_config(home, f'[checks]\nexam_software = [{toml_str(exam)}]\n')
    r = ppe("check", "run", "--only", "integrity.baseline", "--json", "--no-journal")
    assert r.json["checks"][0]["status"] == "warn" and "baseline create" in r.json["checks"][0]["message"]
    r = ppe("check", "baseline", "create", "--json")
    assert r.code == 0 and r.json["files"] == 3 and r.json["signed_by"] == people["station"]
    r = ppe("check", "baseline", "verify", "--json")
    assert r.code == 0 and r.json["status"] == "pass"
    (exam / "bin" / "helper.exe").write_bytes(b"MZ new")
    (exam / "config.ini").write_text("[server]\nhost=10.6.6.6\n", encoding="utf-8")
    (exam / "old.dll").unlink()
    r = ppe("check", "run", "--only", "integrity.baseline", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail"
    assert check["data"]["added"] == [str(exam / "bin" / "helper.exe")]
    assert check["data"]["changed"] == [str(exam / "config.ini")]
    assert check["data"]["removed"] == [str(exam / "old.dll")]
    r = ppe("check", "baseline", "verify")
    assert r.code == 1 and "helper.exe" in r.out and "config.ini" in r.out and "old.dll" in r.out
    # someone "fixes" the baseline instead of the software: the signature catches it
    baseline = home / "data" / "checks" / "baseline.json"
    doc = json.loads(baseline.read_text(encoding="utf-8"))
    doc["files"][str(exam / "config.ini")]["sha256"] = "0" * 64
    baseline.write_text(json.dumps(doc), encoding="utf-8")
    r = ppe("check", "baseline", "verify", "--json")
    assert r.code == 1 and "altered" in r.json["message"] and "invalid" in r.json["message"]


@pytest.mark.parametrize("change", ["new link to a file", "new link to a folder", "dangling link",
                                    "link retargeted", "file replaced by a link", "link replaced by a file"])
def test_baseline_includes_links(ppe, home, people, tmp_path, change):
    if UNDER_WINE:
        pytest.skip(WINE_NO_SYMLINKS)
    """A symbolic link is part of the baseline by its target; a new one is a change like a new file."""
    exam = tmp_path / "exam-station"
    (exam / "lib").mkdir(parents=True)
    (exam / "station.exe").write_bytes(b"MZ" + bytes(100))
    (exam / "lib" / "crypto.dll").write_bytes(b"MZ crypto")
    (exam / "current").symlink_to("lib")
    elsewhere = tmp_path / "evil"
    (elsewhere / "sub").mkdir(parents=True)
    (elsewhere / "crypto.dll").write_bytes(b"MZ crypto")  # the same bytes, somewhere else
    write_config(home, f'[checks]\nexam_software = [{toml_str(exam)}]\n')
    r = ppe("check", "baseline", "create", "--json")
    assert r.code == 0 and r.json["files"] == 3, r.out
    assert ppe("check", "baseline", "verify").code == 0
    if change == "new link to a file":
        (exam / "lib" / "hook.dll").symlink_to(elsewhere / "crypto.dll")
        kind, where = "added", exam / "lib" / "hook.dll"
    elif change == "new link to a folder":
        (exam / "plugins").symlink_to(elsewhere)
        kind, where = "added", exam / "plugins"
    elif change == "dangling link":
        (exam / "ghost").symlink_to(tmp_path / "nowhere")
        kind, where = "added", exam / "ghost"
    elif change == "link retargeted":
        (exam / "current").unlink()
        (exam / "current").symlink_to(elsewhere)
        kind, where = "changed", exam / "current"
    elif change == "file replaced by a link":
        (exam / "lib" / "crypto.dll").unlink()
        (exam / "lib" / "crypto.dll").symlink_to(elsewhere / "crypto.dll")
        kind, where = "changed", exam / "lib" / "crypto.dll"
    else:
        (exam / "current").unlink()
        (exam / "current").write_bytes(b"lib")
        kind, where = "changed", exam / "current"
    r = ppe("check", "baseline", "verify", "--json")
    assert r.code == 1 and r.json[kind] == [str(where)], r.out


def test_network_hosts_open_and_closed(ppe, home):
    listener = socket.create_server(("127.0.0.1", 0))
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        port = listener.getsockname()[1]
        write_config(home, f'[checks]\nhosts = ["127.0.0.1:{port}"]\n')
        r = ppe("check", "run", "--only", "network", "--json", "--no-journal")
        assert r.json["checks"][0]["status"] == "pass"
        write_config(home, f'[checks]\nhosts = ["127.0.0.1:{port}", "127.0.0.1:{closed_port}"]\n')
        r = ppe("check", "run", "--only", "network", "--json", "--no-journal")
        check = r.json["checks"][0]
        assert r.code == 1 and check["status"] == "fail" and f"127.0.0.1:{closed_port}" in check["message"]
    finally:
        listener.close()
    write_config(home, '[checks]\nhosts = ["no-port-here"]\n')
    r = ppe("check", "run", "--only", "network")
    assert r.code == 2 and "checks.hosts" in r.err


class SntpServer:
    """A real SNTP server on a loopback UDP port whose clock is `skew` seconds off ours."""

    def __init__(self, skew: float):
        self.skew = skew
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            now = time.time() + self.skew + system.NTP_EPOCH
            stamp = struct.pack("!II", int(now), int((now % 1) * 2**32))
            reply = bytes([(0 << 6) | (4 << 3) | 4, 2, 6, 0xEC]) + bytes(20) + data[40:48] + stamp + stamp
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("skew,status", [(0.0, "pass"), (2.5, "warn"), (-12.0, "fail")])
def test_clock_against_an_sntp_server(ppe, home, skew, status):
    server = SntpServer(skew)
    try:
        write_config(home, f'[checks]\nntp_server = "127.0.0.1:{server.port}"\nclock_warn = "1s"\nclock_fail = "5s"\n')
        r = ppe("check", "run", "--only", "system.time", "--json", "--no-journal")
    finally:
        server.close()
    check = r.json["checks"][0]
    assert check["status"] == status, check
    assert abs(check["data"]["offset_s"] - skew) < 0.2
    assert ("behind" if skew > 0 else "ahead of") in check["message"] or skew == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is Linux's: /proc shows command lines")
def test_a_camera_password_in_a_command_line_is_a_warning_unless_proc_hides_it(home, tmp_path):
    """ppe-tech's own ffmpeg never carries a password in its arguments; the check looks at
    the command lines that do (here a real process started with the camera URL in its
    argv) and warns while /proc shows them to every user."""
    assert system.proc_hidden("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n") is False
    assert system.proc_hidden("proc /proc proc rw,relatime,hidepid=invisible 0 0\n") is True
    assert system.proc_hidden("proc /proc proc rw,relatime,hidepid=2,gid=27 0 0\n") is True
    assert system.proc_hidden("sysfs /sys sysfs rw 0 0\n") is None
    cfg = config_of(home, '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nurl = "rtsp://admin:s3cret@127.0.0.1:9/a"\n')
    ctx = Context(config=cfg, data_dir=home / "data", recordings_dir=home / "data" / "recordings")
    open_proc = tmp_path / "mounts-open"
    open_proc.write_text("proc /proc proc rw,relatime 0 0\n")
    hidden = tmp_path / "mounts-hidden"
    hidden.write_text("proc /proc proc rw,relatime,hidepid=invisible 0 0\n")
    # nothing carries it: a pass on an open /proc too (before, the mere password was a warning)
    clean = system.process_arguments(ctx, Commands(), mounts=str(open_proc))
    assert clean.status == Status.PASS and "stdin" in str(clean.message), clean.message
    leaky = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "rtsp://admin:s3cret@127.0.0.1:9/a"])
    try:
        assert wait_for(lambda: any(":s3cret@" in line for _p, _n, line in system._command_lines()), 10)
        outcome = system.process_arguments(ctx, Commands(), mounts=str(open_proc))
        assert outcome.status == Status.WARN, outcome.message
        assert f"pid {leaky.pid}" in str(outcome.message) and "hidepid" in str(outcome.message)
        assert "s3cret" not in str(outcome.message) + json.dumps(outcome.data)
        assert system.process_arguments(ctx, Commands(), mounts=str(hidden)).status == Status.PASS
    finally:
        leaky.kill()
        leaky.wait()
    assert system.process_arguments(ctx, Commands(), mounts=str(open_proc)).status == Status.PASS
    # a short password matches only in a URL's form, never an ordinary word of a command line
    short = config_of(home, '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nurl = "rtsp://admin:sleep@127.0.0.1:9/a"\n')
    ctx = Context(config=short, data_dir=home / "data", recordings_dir=home / "data" / "recordings")
    lines = lambda: [(1, "sleep", "sleep\x0060")]  # noqa: E731
    assert system.process_arguments(ctx, Commands(), mounts=str(open_proc), processes=lines).status == Status.PASS
    plain = config_of(home, '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nurl = "rtsp://127.0.0.1:9/a"\n')
    ctx = Context(config=plain, data_dir=home / "data", recordings_dir=home / "data" / "recordings")
    assert system.process_arguments(ctx, Commands(), mounts=str(open_proc)).status == Status.PASS


def test_w32tm_status_is_read():
    synced, how = system.parse_w32tm((DATA / "w32tm-status.txt").read_text(encoding="utf-8"))
    assert synced is True and "ntp.msk.ru" in how
    assert system.parse_w32tm("Source: Local CMOS Clock\r\n")[0] is False


def test_disk_check_compares_free_space_with_the_recording_need(home):
    cfg = config_of(home, '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nurl = "rtsp://127.0.0.1:9/a"\n'
                          '[[exams]]\nid = "math"\nstart = "2026-06-01T10:00"\nduration = "3h55m"\n'
                          '[recording]\nfloor = "1MiB"\n')
    before = datetime(2026, 6, 1, 3, 0, tzinfo=timezone.utc)  # 06:00 in Moscow: the window has not opened
    ctx = Context(config=cfg, data_dir=home / "data", recordings_dir=home / "data" / "recordings", exam=cfg.exams[0],
                  now=before)
    estimate = system.recording_need(ctx)
    # the whole recording window: 1 h before, 3 h 55 min, 1 h after; nothing recorded yet: 4 Mbit/s assumed
    assert estimate.seconds == timedelta(hours=5, minutes=55).total_seconds() and estimate.measured == 0
    need = estimate.bytes
    assert need == int(500_000 * estimate.seconds)
    late = Context(config=cfg, data_dir=home / "data", recordings_dir=home / "data" / "recordings", exam=cfg.exams[0],
                   now=datetime(2026, 6, 1, 10, 55, tzinfo=timezone.utc))  # 13:55 in Moscow: the last hour left
    assert system.recording_need(late).seconds == 3600
    outcome = system.disk(ctx, Commands())
    assert "assumed 4 Mbit/s for 1 of them" in str(outcome.message) and "until 14:55" in str(outcome.message)
    free = shutil.disk_usage(home).free
    assert outcome.status == (Status.PASS if free > need + 2**20 else Status.FAIL)
    assert outcome.data["need"] == need
    many = config_of(home, "".join(f'[[cameras]]\nid = "c{i}"\nlocation = "auditorium"\nurl = "rtsp://127.0.0.1:9/{i}"\n'
                                   for i in range(int(free / need) + 2)))
    ctx = Context(config=many, data_dir=home / "data", recordings_dir=home / "data" / "recordings", exam=cfg.exams[0],
                  now=before)
    assert system.disk(ctx, Commands()).status == Status.FAIL


# -- printers ---------------------------------------------------------------------------------

def test_lpstat_and_get_printer_outputs_are_read():
    assert network.parse_lpstat((DATA / "lpstat-en.txt").read_text(encoding="utf-8")) == {
        "HP_LaserJet_Pro": "idle", "Kyocera_2040": "disabled", "Canon_MF3010": "printing"}
    assert network.parse_lpstat((DATA / "lpstat-ru.txt").read_text(encoding="utf-8")) == {
        "HP_LaserJet_Pro": "idle", "Kyocera_2040": "disabled"}
    assert network.parse_get_printer((DATA / "get-printer.json").read_text(encoding="utf-8")) == {
        "HP LaserJet Pro M404": "idle", "Kyocera ECOSYS P2040dn": "offline"}


def test_printers_check_verdicts(home):
    states = network.parse_lpstat((DATA / "lpstat-en.txt").read_text(encoding="utf-8"))

    def verdict(names: list[str]):
        cfg = config_of(home, "[checks]\nprinters = [" + ", ".join(f'"{n}"' for n in names) + "]\n")
        ctx = Context(config=cfg, data_dir=home, recordings_dir=home)
        return network.printers(ctx, Commands(), states=states)
    assert verdict(["HP_LaserJet_Pro"]).status == Status.PASS
    assert verdict(["HP_LaserJet_Pro", "Canon_MF3010"]).status == Status.WARN
    out = verdict(["HP_LaserJet_Pro", "Kyocera_2040", "Xerox"])
    assert out.status == Status.FAIL and "Kyocera_2040" in out.message and "Xerox" in out.message
    assert verdict([]).status == Status.SKIP


# -- outputs: JUnit, PDF, journal -------------------------------------------------------------

def test_junit_pdf_report_and_journal_entry(ppe, home, people, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    write_config(home, f'[checks]\nhosts = ["127.0.0.1:{listener.getsockname()[1]}", "127.0.0.1:1"]\n'
                       '[[exams]]\nid = "math"\nsubject = "Математика"\nstart = "2026-06-01T10:00"\n')
    try:
        r = ppe("check", "run", "--exam", "math", "--only", "network,system.resources,printers", "--format", "junit",
                "--out", tmp_path / "check.xml", "--pdf", tmp_path / "protocol.pdf")
    finally:
        listener.close()
    assert r.code == 1 and r.out == ""
    root = ET.parse(tmp_path / "check.xml").getroot()
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"network", "system.resources", "printers"}
    assert cases["network"].find("failure") is not None and "127.0.0.1:1" in cases["network"].find("failure").text
    assert cases["printers"].find("skipped") is not None
    assert suite.get("failures") == "1" and suite.get("skipped") == "1" and suite.get("tests") == "3"
    text = subprocess.run([host_tool("pdftotext"), "-layout", str(tmp_path / "protocol.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    for needle in ("Протокол проверки рабочей станции ППЭ", "0123", "Математика", "Доступность узлов сети",
                   "не пройдена", "пропущена", "Готовность принтеров", "Запись в журнале: №",
                   "недоступны: 127.0.0.1:1", "принтеры не указаны"):  # the messages in Russian too
        assert needle in text, needle
    assert "unreachable" not in text
    entries = ppe("journal", "list", "--json").json["entries"]
    assert entries[-1]["action"] == "Проверка работоспособности"
    assert entries[-1]["actor"]["key_id"] == people["station"]
    reports = sorted((home / "data" / "checks" / "reports").glob("*_math.json"))
    assert len(reports) == 1
    kept = json.loads(reports[0].read_text(encoding="utf-8"))
    assert kept["status"] == "fail" and kept["journal_entry"] == entries[-1]["number"]


# -- antivirus adapters against recorded outputs ----------------------------------------------

class Recorded(Commands):
    """Replays outputs recorded from a product that cannot run here."""

    def __init__(self, answers: dict[tuple[str, ...], tuple[int, str]]):
        super().__init__()
        self.answers, self.calls = answers, []

    def run(self, args, timeout=None, input=None):
        self.calls.append(tuple(args))
        for prefix, (code, name) in self.answers.items():
            if tuple(args[:len(prefix)]) == prefix:
                text = (DATA / name).read_text(encoding="utf-8") if name else ""
                return code, text, ""
        raise FileNotFoundError(args[0])


def test_defender_status_in_both_powershell_date_formats():
    for name in ("defender-status-ps51.json", "defender-status-ps7.json"):
        st = antivirus.Defender().status(Recorded({("powershell.exe",): (0, name)}))
        assert st.realtime is True and st.version == "4.18.25100.9"
        assert st.signatures == datetime(2026, 5, 24, 7, 0, tzinfo=timezone.utc), name
    st = antivirus.Defender().status(Recorded({("powershell.exe",): (0, "defender-status-rtp-off.json")}))
    assert st.realtime is False and "off" in st.realtime_note


def test_defender_scan_exit_codes_and_threat_list(tmp_path):
    cmds = Recorded({(antivirus._mpcmdrun(),): (2, "mpcmdrun-threat.txt")})
    report = antivirus.Defender().scan([tmp_path], cmds)
    assert report.infected == [(r"C:\ExamStation\bin\update.com", "Virus:DOS/EICAR_Test_File")]
    assert "-DisableRemediation" in cmds.calls[0] and "3" in cmds.calls[0]
    report = antivirus.Defender().scan([tmp_path], Recorded({(antivirus._mpcmdrun(),): (0, "mpcmdrun-clean.txt")}))
    assert report.infected == [] and report.errors == []
    report = antivirus.Defender().scan([tmp_path], Recorded({(antivirus._mpcmdrun(),): (5, "")}))
    assert report.errors and "exited with 5" in report.errors[0]


def test_kaspersky_linux_and_windows():
    st = antivirus.Kaspersky("linux").status(Recorded({("kesl-control", "--app-info"): (0, "kesl-app-info.txt")}))
    assert st.version == "12.1.0.1297" and st.realtime is True
    assert st.signatures == datetime(2026, 5, 24, 6, 12, tzinfo=timezone.utc).replace(tzinfo=None).astimezone(
        timezone.utc)
    report = antivirus.Kaspersky("linux").scan([Path("/opt/exam-station")], Recorded(
        {("kesl-control", "--scan-file"): (0, "kesl-scan-threat.txt")}))
    assert report.infected == [("/opt/exam-station/bin/update.com", "EICAR-Test-File")] and report.scanned == 214
    win = Recorded({("kescli", "--opswat", "GetDefinitionState"): (0, "kescli-definition-state.txt"),
                    ("kescli", "--opswat", "GetRealTimeProtectionState"): (0, "kescli-rtp-state.txt"),
                    ("kescli", "--opswat", "GetVersion"): (0, ""), ("avp.com",): (3, "avp-scan-threat.txt")})
    st = antivirus.Kaspersky("win32").status(win)
    assert st.realtime is True and st.signatures is not None and st.signatures.year == 2026
    report = antivirus.Kaspersky("win32").scan([Path(r"C:\ExamStation")], win)
    assert report.infected == [(r"C:\ExamStation\bin\update.com", "EICAR-Test-File")] and not report.errors


def test_drweb_baseinfo_appinfo_and_scan():
    cmds = Recorded({("drweb-ctl", "baseinfo"): (0, "drweb-baseinfo.txt"), ("drweb-ctl", "appinfo"): (0, "drweb-appinfo.txt"),
                     ("drweb-ctl", "scan"): (0, "drweb-scan-threat.txt")})
    st = antivirus.DrWeb().status(cmds)
    assert st.version == "7.00.68.02060" and st.realtime is True
    assert st.signatures is not None and (st.signatures.month, st.signatures.day) == (5, 24)
    report = antivirus.DrWeb().scan([Path("/opt/exam-station")], cmds)
    assert report.infected == [("/opt/exam-station/bin/update.com", "EICAR Test File (NOT a Virus!)")]
    assert report.scanned == 3


def test_antivirus_status_verdicts_from_signature_age(home):
    cfg = config_of(home, '[antivirus]\nengine = "defender"\nmax_signature_age = "7d"\n')
    fresh = Recorded({("powershell.exe",): (0, "defender-status-ps51.json")})
    cls = antivirus.Defender
    original = cls.detect
    cls.detect = lambda self, cmds: True
    try:
        ctx = Context(config=cfg, data_dir=home, recordings_dir=home, now=datetime(2026, 5, 25, 8, 0, tzinfo=timezone.utc))
        out = antivirus_status(ctx, fresh)
        assert out.status == Status.PASS and out.data["signature_age_days"] == pytest.approx(1.0, abs=0.05)
        ctx.now = datetime(2026, 6, 5, 8, 0, tzinfo=timezone.utc)
        out = antivirus_status(ctx, fresh)
        assert out.status == Status.FAIL and "12 days old" in out.message
        out = antivirus_status(ctx, Recorded({("powershell.exe",): (0, "defender-status-rtp-off.json")}))
        assert out.status == Status.FAIL and "real-time protection is off" in out.message
    finally:
        cls.detect = original


# -- ClamAV for real --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def clamd(tmp_path_factory):
    """A real clamd on a socket in a temp dir, with a local EICAR-only signature database."""
    host_tool("clamd")
    if localclam.clamd_program() is None:
        pytest.fail("clamd is not installed: `make test` installs clamav-daemon (scripts/bootstrap.sh)")
    base = tmp_path_factory.mktemp("clamd")
    with localclam.LocalClamd(base, localclam.eicar_database(base / "db"), timeout=60) as daemon:
        yield daemon.socket, daemon.database


def clam_config(home: Path, sock: Path, db: Path, exam: Path, extra: str = "") -> None:
    write_config(home, f'[checks]\nexam_software = [{toml_str(exam)}]\n[antivirus]\nengine = "clamav"\n'
                       f'clamd_socket = {toml_str(sock)}\ndatabase = {toml_str(db)}\nmax_signature_age = "7d"\n' + extra)


def test_clamd_scan_names_the_infected_file(ppe, home, clamd, tmp_path):
    sock, db = clamd
    exam = tmp_path / "exam-station"
    (exam / "bin").mkdir(parents=True)
    for i in range(20):
        (exam / "bin" / f"module{i}.dll").write_bytes(os.urandom(20_000))
    clam_config(home, sock, db, exam)
    r = ppe("check", "run", "--only", "antivirus.scan", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 0 and check["status"] == "pass" and check["data"]["method"] == "clamd MULTISCAN", check
    assert check["data"]["scanned"] == 20
    (exam / "bin" / "update.com").write_bytes(EICAR)
    r = ppe("check", "run", "--only", "antivirus.scan", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail" and "update.com" in check["message"]
    assert check["data"]["infected"] == [[str(exam / "bin" / "update.com"), "Ppe-Eicar-Test.UNOFFICIAL"]]


def test_clamscan_fallback_without_clamd(ppe, home, tmp_path):
    host_tool("clamscan")
    db = localclam.eicar_database(tmp_path / "db")
    exam = tmp_path / "exam"
    exam.mkdir()
    (exam / "clean.txt").write_text("nothing here", encoding="utf-8")
    (exam / "bad.com").write_bytes(EICAR)
    clam_config(home, tmp_path / "no-clamd.sock", db, exam, '[checks]\n' if False else "")
    r = ppe("check", "run", "--only", "antivirus.scan", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert check["status"] == "fail" and check["data"]["method"] in ("clamscan", "clamdscan"), check
    assert [Path(p).name for p, _n in check["data"]["infected"]] == ["bad.com"]


def test_clamav_signature_age_from_the_database(ppe, home, clamd, tmp_path):
    sock, db = clamd
    exam = tmp_path / "exam"
    exam.mkdir()
    clam_config(home, sock, db, exam)
    now = time.time()
    for path in db.iterdir():
        os.utime(path, (now, now))
    r = ppe("check", "run", "--only", "antivirus.status", "--json", "--no-journal")
    check = r.json["checks"][0]
    # fresh signatures; ClamAV's on-access scanner is not running here: a warning, not a failure
    assert check["status"] == "warn" and "clamonacc" in check["message"], check
    assert check["data"]["signature_age_days"] < 0.1
    old = now - 10 * 86400
    for path in db.iterdir():
        os.utime(path, (old, old))
    try:
        r = ppe("check", "run", "--only", "antivirus.status", "--json", "--no-journal")
    finally:
        for path in db.iterdir():
            os.utime(path, (now, now))
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail" and "10 days old" in check["message"], check


def test_clamd_instream_and_version(clamd, tmp_path):
    sock, _db = clamd
    client = antivirus.Clamd(str(sock))
    sample = tmp_path / "sample.bin"
    sample.write_bytes(os.urandom(3_000_000) + EICAR)  # over several INSTREAM chunks
    assert client.instream(sample).endswith("Ppe-Eicar-Test.UNOFFICIAL FOUND")
    sample.write_bytes(os.urandom(100_000))
    assert client.instream(sample) == "stream: OK"
    version, _date = antivirus.clam_version_date(client.command("VERSION"))
    assert versions.find_version(version)


def test_required_software_from_the_windows_registry(home):
    cfg = config_of(home, '[[checks.required]]\nname = "Станция КЕГЭ"\nregistry = "Станция КЕГЭ"\nversion = ">=3.2"\n'
                          '[[checks.required]]\nname = "7-Zip"\nregistry = "7-Zip"\n')
    entries = {"Станция КЕГЭ": "3.4.1", "7-Zip": None}

    def registry(name):
        return (name in entries, entries.get(name))
    ctx = Context(config=cfg, data_dir=home, recordings_dir=home)
    out = software.required(ctx, Commands(), registry=registry)
    assert out.status == Status.PASS and "Станция КЕГЭ 3.4.1" in out.details[0]
    entries["Станция КЕГЭ"] = "3.1"
    out = software.required(ctx, Commands(), registry=registry)
    assert out.status == Status.FAIL and ">=3.2 required" in out.details[0]
    del entries["7-Zip"]
    out = software.required(ctx, Commands(), registry=registry)
    assert "no uninstall entry named «7-Zip»" in out.details[1]
    if sys.platform != "win32":  # without the registry (not Windows): said so, not passed
        assert software.required(ctx, Commands()).status == Status.SKIP


def test_cameras_check_probes_every_camera(ppe, home, simulator):
    write_config(home, simulator.config(["live-1", "live-2"]))
    r = ppe("check", "run", "--only", "cameras", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 0 and check["status"] == "pass" and "all 2 cameras answer" in check["message"], check
    assert any("h264" in d for d in check["details"])
    write_config(home, simulator.config(["live-1"]))
    check = ppe("check", "run", "--only", "cameras", "--json", "--no-journal").json["checks"][0]
    assert check["status"] == "pass" and check["message"] == "the 1 camera answers", check
    write_config(home, simulator.config(["live-1", "offline"]) + '[health]\ntimeout = "2s"\n')
    r = ppe("check", "run", "--only", "cameras", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 1 and check["status"] == "fail" and "offline" in check["message"], check
