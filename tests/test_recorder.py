"""Supervised recording from simulated cameras: crashes, stalls, outages, stop, gaps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import HARD_KILL, UNDER_WINE, Simulator, wait_for
from video import recorder, segments


@pytest.fixture(scope="module")
def rec_sim(sim_cache):
    # cam-1..3 (killed, stalled, offline below) hold passwords, so they record through the
    # concat list on ffmpeg's stdin; cam-4 keeps its plain URL on the command line
    sim = Simulator([{"name": f"cam-{n}", **({"user": "admin", "password": f"rec-pass-{n}"} if n < 4 else {})}
                     for n in range(1, 5)], sim_cache)
    yield sim
    sim.stop()


@pytest.fixture
def rec_home(home, ppe, rec_sim):
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
        '[recording]\nsegment = "5s"\nstall_timeout = "4s"\ntimeout = "30s"\n' + rec_sim.config(), encoding="utf-8")
    (home / "ppe-tech.toml").chmod(0o600)  # camera passwords, as `init` writes it
    assert ppe("keys", "create", "--station").code == 0
    yield home
    ppe("cameras", "stop")


def state(home):
    return recorder.read_state(home / "data" / "recorder") or {}


def camera(home, cid):
    return state(home).get("cameras", {}).get(cid, {})


def playable(path) -> int:
    """Frames ffprobe can read from a segment (0 when unreadable)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    first = (out.stdout.strip().splitlines() or ["0"])[0].rstrip(",")
    return int(first) if first.isdigit() else 0


def test_four_cameras_record_without_gaps(ppe, rec_home):
    home = rec_home
    t0 = time.time()
    assert ppe("cameras", "start").code == 0
    assert wait_for(lambda: all(camera(home, f"cam-{n}").get("recording") for n in range(1, 5)), 15)
    time.sleep(25)
    assert ppe("cameras", "stop").code == 0
    t1 = time.time()
    root = home / "data" / "recordings"
    for n in range(1, 5):
        files = segments.files(root, f"cam-{n}")
        assert len(files) >= 5  # 5 s segments
        assert all(playable(p) > 0 for p in files)
    r = ppe("recordings", "gaps", "--json")
    assert r.code == 0 and r.json["gaps"] == []
    coverage = {c["camera"]: c for c in ppe("recordings", "list", "--json").json["coverage"]}
    for n in range(1, 5):
        assert abs(coverage[f"cam-{n}"]["recorded_s"] - (t1 - t0)) < 6, coverage[f"cam-{n}"]


def test_recording_survives_kill_stall_and_outage(ppe, rec_home, rec_sim):
    home = rec_home
    t0 = time.time()
    r = ppe("cameras", "start", "--json")
    assert r.code == 0, r.err
    assert wait_for(lambda: all(camera(home, f"cam-{n}").get("recording") for n in range(1, 5)), 15)

    # 1. SIGKILL one camera's ffmpeg: restarted within 10 s, the gap recorded
    victim = camera(home, "cam-1")["ffmpeg_pid"]
    killed_at = time.monotonic()
    os.kill(victim, HARD_KILL)
    assert wait_for(lambda: camera(home, "cam-1").get("restarts", 0) >= 1 and camera(home, "cam-1").get("recording"), 10)
    assert time.monotonic() - killed_at < 10

    # 2. a camera that stalls (connection open, no data): caught by freshness, restarted
    rec_sim.fault("cam-2", "stall", 8)
    stalled_at = time.monotonic()
    assert wait_for(lambda: camera(home, "cam-2").get("restarts", 0) >= 1, 12)
    assert time.monotonic() - stalled_at < 2 * 5 + 2  # within 2 x segment length
    # ffmpeg's own I/O timeout (30 s here) has not fired: the freshness check caught it
    assert "stalled" in (camera(home, "cam-2")["outages"] or [{}])[0].get("reason", "")

    # 3. a camera offline for 20 s reconnects by itself
    rec_sim.fault("cam-3", "offline", 20)
    offline_from = time.time()
    time.sleep(1)
    assert not camera(home, "cam-3").get("recording") or wait_for(lambda: not camera(home, "cam-3").get("recording"), 6)
    assert wait_for(lambda: camera(home, "cam-3").get("recording"), 35)
    back_at = time.time()

    status = ppe("cameras", "status", "--json")
    assert status.code == 0
    by_id = {c["id"]: c for c in status.json["cameras"]}
    assert all(by_id[f"cam-{n}"]["recording"] for n in range(1, 5))
    assert by_id["cam-3"]["outages"] and by_id["cam-3"]["outages"][-1]["end"] is not None
    assert by_id["cam-4"]["restarts"] == 0 and by_id["cam-4"]["outages"] == []
    assert by_id["cam-4"]["bytes"] > 0 and by_id["cam-4"]["last_segment_age_s"] < 4

    time.sleep(3)
    stop_started = time.monotonic()
    r = ppe("cameras", "stop", "--json")
    assert r.code == 0 and r.json["stopped"] is True
    assert time.monotonic() - stop_started < 10
    t1 = time.time()
    # every ffmpeg finished its segment when asked (SIGINT; CTRL_BREAK on Windows, which reaches
    # them because the detached supervisor has a console of its own), none had to be killed
    log = (home / "data" / "recorder" / "supervisor.log").read_text(encoding="utf-8")
    assert "stopped" in log
    if not UNDER_WINE:  # Wine sends the console event but does not deliver it to ffmpeg: killed after 5 s
        assert "killed" not in log, log[-3000:]

    root = home / "data" / "recordings"
    for n in range(1, 5):
        files = segments.files(root, f"cam-{n}")
        assert files, n
        for path in files:
            assert playable(path) > 0, path  # every segment finalised and decodable

    r = ppe("recordings", "gaps", "--json")
    assert r.code == 1
    gaps = r.json["gaps"]
    by_camera = {}
    for g in gaps:
        by_camera.setdefault(g["camera"], []).append(g)
    assert "cam-4" not in by_camera  # untouched: no gaps
    assert set(by_camera) >= {"cam-1", "cam-3"}
    outage = max(by_camera["cam-3"], key=lambda g: g["seconds"])
    assert 15 <= outage["seconds"] <= (back_at - offline_from) + 3
    listed = ppe("recordings", "list", "--camera", "cam-4", "--json").json["segments"]
    covered = sum(s["seconds"] for s in listed)
    assert abs(covered - (t1 - t0)) < 6  # coverage of the untouched camera is about the wall time

    entries = ppe("journal", "list", "--json").json["entries"]
    assert [e["action"] for e in entries] == ["Начало записи", "Отключение средства видеозаписи"]
    assert entries[0]["actor"]["station"] is True
    assert ppe("journal", "verify").code == 0


def test_supervisor_killed_then_started_again(ppe, rec_home):
    home = rec_home
    assert ppe("cameras", "start", "cam-1", "cam-2").code == 0
    assert wait_for(lambda: camera(home, "cam-1").get("recording") and camera(home, "cam-2").get("bytes", 0) > 0, 15)
    time.sleep(2)
    supervisor = state(home)["pid"]
    children = [camera(home, c)["ffmpeg_pid"] for c in ("cam-1", "cam-2")]
    os.kill(supervisor, HARD_KILL)
    time.sleep(1.5)
    for pid in children:  # the ffmpegs die with their supervisor
        assert wait_for(lambda pid=pid: not _running(pid), 5), pid
    status = ppe("cameras", "status", "--json").json
    assert status["supervisor"]["running"] is False
    assert not any(c["recording"] for c in status["cameras"])
    root = home / "data" / "recordings"
    for cid in ("cam-1", "cam-2"):
        files = segments.files(root, cid)
        assert files, cid
        for path in files[:-1]:
            assert playable(path) > 0, path
        # the newest may have been opened at the very instant of the kill, before its first packet
        assert playable(files[-1]) > 0 or files[-1].stat().st_size < 64 * 1024, files[-1]
    r = ppe("cameras", "start", "cam-1")
    assert r.code == 0, r.err
    assert wait_for(lambda: camera(home, "cam-1").get("recording"), 15)
    assert ppe("cameras", "start").code == 2  # already recording


def _running(pid: int) -> bool:
    if sys.platform == "win32":  # no /proc: ask Windows (psutil's OpenProcess)
        import psutil

        try:
            return psutil.Process(pid).is_running()
        except psutil.NoSuchProcess:
            return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_disk_space_warnings(ppe, rec_home):
    home = rec_home
    config = (home / "ppe-tech.toml").read_text(encoding="utf-8")
    (home / "ppe-tech.toml").write_text(config.replace('[recording]\n', '[recording]\nfloor = "1000TiB"\n'),
                                        encoding="utf-8")
    r = ppe("cameras", "start", "cam-4")
    assert r.code == 0, r.err
    assert "WARNING" in r.err and "GiB free" in r.err  # before starting: it will not fit
    status = wait_for(lambda: ppe("cameras", "status", "--json").json.get("disk_warning"), 5)
    assert status and "floor" in status  # and loudly while recording
    listed = ppe("cameras", "status")
    assert "WARNING" in listed.err
    assert ppe("cameras", "stop").code == 0
    assert (home / "data" / "recordings" / "cam-4").exists()  # nothing deleted


def test_bad_input(ppe, rec_home):
    r = ppe("cameras", "start", "nope")
    assert r.code == 2 and len(r.err_lines()) == 1 and "unknown camera" in r.err
    r = ppe("recordings", "gaps", "--from", "yesterday")
    assert r.code == 2 and "--from" in r.err


def test_segment_time_unwrap():
    near = 1_795_646_400.0
    pts = near % segments.WRAP + 2.5
    assert segments.unwrap(pts, near) == pytest.approx(near + 2.5)
    assert segments.unwrap((near - 3) % segments.WRAP, near) == pytest.approx(near - 3)


def test_gap_arithmetic():
    seg = lambda a, b, holes=(): segments.SegmentInfo("c", "p", 1, a, b, 10, list(holes))  # noqa: E731
    found = segments.gaps("c", [seg(0, 10), seg(10.5, 20, [(14, 17)]), seg(25, 30)], since=-5, until=40)
    assert [(g.start, g.end) for g in found] == [(-5, 0), (14, 17), (20, 25), (30, 40)]
    assert json.dumps([g.seconds for g in found]) == "[5, 3, 5, 10]"


def test_spawn_detaches_on_each_platform(monkeypatch, tmp_path):
    calls = []

    class FakePopen:
        def __init__(self, argv, **kwargs):
            calls.append(kwargs)
            self.pid = 4242
    monkeypatch.setattr(recorder.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(recorder.sys, "platform", "win32")
    assert recorder.spawn(["x"], tmp_path / "log") == 4242
    # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP: a console with no window, not DETACHED_PROCESS
    # (0x8): CTRL_BREAK, the stop that lets ffmpeg finish its segment, needs a console
    assert calls[-1]["creationflags"] == 0x08000000 | 0x00000200 and "start_new_session" not in calls[-1]
    monkeypatch.setattr(recorder.sys, "platform", "linux")
    recorder.spawn(["x"], tmp_path / "log")
    assert calls[-1]["start_new_session"] is True and "creationflags" not in calls[-1]


def test_record_command_preset(tmp_path):
    from video import ffmpeg

    plain = recorder.record_command("rtsp://192.0.2.1/s", tmp_path / "c_%Y.ts", 60, 5)
    assert plain.stdin is None and "rtsp://192.0.2.1/s" in plain.argv  # no secret: the URL stays in sight
    secret = recorder.record_command("rtsp://u:p@192.0.2.1/s", tmp_path / "c_%Y.ts", 60, 5)
    assert not any("u:p@" in a for a in secret.argv) and "pipe:0" in secret.argv
    assert secret.stdin is not None and b"file 'rtsp://u:p@192.0.2.1/s'" in secret.stdin
    assert b"option rtsp_transport 'tcp'" in secret.stdin and b"option timeout '5000000'" in secret.stdin
    for args in (" ".join(plain.argv), " ".join(secret.argv)):
        for needle in ("-use_wallclock_as_timestamps 1", "-c copy", "-segment_time 60", "-segment_atclocktime 1",
                       "-segment_format mpegts", "flush_packets=1", "-strftime 1", "-nostdin"):
            assert needle in args, needle
        assert "-c:v libx264" not in args  # never re-encodes
    assert "-rtsp_transport tcp -timeout 5000000 -i rtsp://192.0.2.1/s" in " ".join(plain.argv)
    assert ffmpeg.camera_input("v4l2:/dev/video0", 5) == ffmpeg.Command(["-f", "v4l2", "-i", "/dev/video0"])
