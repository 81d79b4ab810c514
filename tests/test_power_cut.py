"""Recording on the exam calendar, and back after a power cut: real ffmpeg, simulated cameras.

A power cut is simulated by SIGKILL of the supervisor and every ffmpeg at once (nothing
finishes its segment), plus the damage a cut leaves on disk (a partial last packet, an
empty file, a file of garbage); then `recorder resume` runs as it would at boot.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import HARD_KILL, Simulator, wait_for
from video import recorder, segments

MSK = ZoneInfo("Europe/Moscow")
SEGMENT = 2  # seconds




@pytest.fixture(scope="module")
def cut_sim(sim_cache):
    sim = Simulator([{"name": "cam-a", "user": "admin", "password": "cut-pass"}, {"name": "cam-b"}], sim_cache)
    yield sim
    sim.stop()


def write_config(home, sim, start: datetime, precheck_before: str = "10m") -> None:
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
        f'[recording]\nsegment = "{SEGMENT}s"\nstall_timeout = "4s"\ntimeout = "30s"\n'
        f'[[exams]]\nid = "math"\nstart = "{start:%Y-%m-%dT%H:%M}"\nduration = "1h"\n'
        f'precheck_before = "{precheck_before}"\nrecord_before = "1h"\nrecord_after = "30m"\n'
        + sim.config(), encoding="utf-8")
    (home / "ppe-tech.toml").chmod(0o600)  # cam-a's password, as `init` writes it


@pytest.fixture
def cut_home(home, ppe, cut_sim):
    now = datetime.now(MSK).replace(tzinfo=None, second=0, microsecond=0)
    write_config(home, cut_sim, now + timedelta(minutes=30))  # the recording window is open now
    assert ppe("keys", "create", "--station").code == 0
    yield home
    ppe("cameras", "stop")


def state(home) -> dict:
    return recorder.read_state(home / "data" / "recorder") or {}


def segs(home, camera):
    return segments.files(home / "data" / "recordings", camera)


def power_cut(home) -> float:
    """SIGKILL the supervisor and every ffmpeg at the same moment; when it happened."""
    doc = state(home)
    pids = [doc["pid"], *(c["ffmpeg_pid"] for c in doc["cameras"].values() if c.get("ffmpeg_pid"))]
    cut = time.time()
    for pid in pids:
        os.kill(pid, HARD_KILL)
    for pid in pids if sys.platform != "win32" else ():  # reap our child (the supervisor); the ffmpegs
        try:                                             # are its children. Windows has no zombies, and
            os.waitpid(pid, 0)                           # its waitpid takes a handle, not a pid
        except ChildProcessError:
            pass
    assert wait_for(lambda: not recorder.alive(doc["pid"]), 5)
    return cut


def entries(ppe) -> list[dict]:
    return ppe("journal", "list", "--json").json["entries"]


def test_a_power_cut_is_resumed_with_the_gap_reported_and_nothing_lost(ppe, cut_home):
    home = cut_home
    assert ppe("cameras", "start").code == 0
    assert wait_for(lambda: all(len(segs(home, c)) >= 3 for c in ("cam-a", "cam-b")), 20)
    old_pid = state(home)["pid"]
    cut = power_cut(home)
    # what a cut leaves on disk: cam-a's last segment ends in a partial packet; cam-b has an
    # empty segment created at the cut and one that is garbage
    newest_a = segs(home, "cam-a")[-1]
    with open(newest_a, "ab") as out:
        out.write(b"\x47" + os.urandom(99))
    last_b = segments.name_time(segs(home, "cam-b")[-1], MSK)
    garbage = segs(home, "cam-b")[-1].with_name(
        f"cam-b_{datetime.fromtimestamp(last_b + 1, MSK):%Y%m%d_%H%M%S}.ts")
    garbage.write_bytes(os.urandom(188 * 40))
    empty = garbage.with_name(f"cam-b_{datetime.fromtimestamp(last_b + 2, MSK):%Y%m%d_%H%M%S}.ts")
    empty.touch()
    before = len(entries(ppe))
    time.sleep(4)  # the station is off

    resumed_at = time.time()
    r = ppe("recorder", "resume", "--json")
    assert r.code == 0, r.err
    result = r.json
    assert result["resumed"] is True and result["pid"] != old_pid and recorder.alive(result["pid"])
    assert abs(datetime.fromisoformat(result["interrupted"]["from"]).timestamp() - cut) < 2
    # recording again within seconds: a new segment of every camera, started after the resume
    fresh = lambda c: [p for p in segs(home, c) if segments.name_time(p, MSK) >= resumed_at - 1]  # noqa: E731
    assert wait_for(lambda: all(fresh(c) and fresh(c)[0].stat().st_size > 0 for c in ("cam-a", "cam-b")), 10, 0.2)
    first_new = time.time()
    assert first_new - resumed_at < 10

    outcomes = {(x["camera"], x["segment"]): x["outcome"] for x in result["repaired"]}
    assert outcomes[("cam-a", newest_a.name)] == "trimmed"
    assert outcomes[("cam-b", garbage.name)] == "set-aside" and outcomes[("cam-b", empty.name)] == "set-aside"
    damaged = home / "data" / "recordings" / "cam-b" / ".damaged"
    assert (damaged / garbage.name).stat().st_size == 188 * 40  # nothing already written is lost
    assert (home / "data" / "recordings" / "cam-a" / ".damaged" / (newest_a.name + ".tail")).stat().st_size == 100
    assert newest_a.stat().st_size % 188 == 0

    # the journal says so, and still verifies
    journal = entries(ppe)
    assert len(journal) == before + 1
    assert journal[-1]["action"].startswith("Начало записи (возобновление после перерыва с ")
    assert ppe("journal", "verify", "--json").json["ok"] is True

    time.sleep(2 * SEGMENT)
    # every camera shows the cut as a gap whose bounds match it (within one segment)
    since = datetime.fromtimestamp(cut - 6, MSK).strftime("%Y-%m-%dT%H:%M")
    gaps = ppe("recordings", "gaps", "--from", since, "--json").json["gaps"]
    for camera in ("cam-a", "cam-b"):
        mine = [g for g in gaps if g["camera"] == camera and datetime.fromisoformat(g["start"]).timestamp() < resumed_at
                and datetime.fromisoformat(g["end"]).timestamp() > cut]
        assert len(mine) == 1, gaps
        start, end = (datetime.fromisoformat(mine[0][k]).timestamp() for k in ("start", "end"))
        assert abs(start - cut) <= SEGMENT + 1, (camera, start - cut)
        assert resumed_at - 1 <= end <= first_new + 1, (camera, end - resumed_at)
    listed = ppe("recordings", "list", "--json").json
    assert all(s["error"] is None for s in listed["segments"]), [s for s in listed["segments"] if s["error"]]
    status = {c["id"]: c for c in ppe("cameras", "status", "--json").json["cameras"]}
    assert all(status[c]["recording"] for c in ("cam-a", "cam-b"))
    assert all(any("interrupted" in o["reason"] for o in status[c]["outages"]) for c in ("cam-a", "cam-b"))

    # a second resume changes nothing: never a second supervisor, no second entry
    pid = state(home)["pid"]
    again = ppe("recorder", "resume", "--json")
    assert again.code == 0 and again.json["resumed"] is False and again.json["pid"] == pid
    assert len(entries(ppe)) == before + 1

    # after a deliberate stop, resume starts nothing
    assert ppe("cameras", "stop").code == 0
    after_stop = ppe("recorder", "resume", "--json")
    assert after_stop.code == 0 and after_stop.json["resumed"] is False
    assert "stopped on purpose" in after_stop.json["why"]
    assert not recorder.alive(state(home).get("pid"))


def test_resume_with_nothing_recorded_does_nothing(ppe, cut_home):
    r = ppe("recorder", "resume")
    assert r.code == 0 and "Nothing to resume" in r.out and "never started" in r.out
    assert not (cut_home / "data" / "recorder" / "state.json").exists()


def test_the_schedule_starts_recording_once_respects_a_stop_and_stops_when_the_window_closes(ppe, cut_home, cut_sim):
    home = cut_home

    def due() -> str:
        r = ppe("schedule", "due", "--exam", "math", "--stage", "recording", "--json")  # as the window's jobs run it
        assert r.code == 0, r.err
        return r.json["exams"][0]["recording"]
    assert due() == "started"
    assert recorder.alive(state(home)["pid"])
    assert [e["action"] for e in entries(ppe)] == ["Начало записи"]
    assert due() == "recording"
    assert ppe("cameras", "stop").code == 0  # the specialist stops it on purpose
    assert "not started again" in due()
    assert not recorder.alive(state(home).get("pid"))
    meant = json.loads((home / "data" / "recorder" / "intent.json").read_text())
    assert meant["recording"] is False and meant["stopped_by"] == "user"

    # later the same day: recording restarted by hand, then the window closes
    assert ppe("cameras", "start").code == 0
    now = datetime.now(MSK).replace(tzinfo=None, second=0, microsecond=0)
    write_config(home, cut_sim, now - timedelta(hours=2))  # ended 1 h ago, window closed 30 min ago
    assert due().startswith("stopped: the window closed")
    assert not recorder.alive(state(home).get("pid"))
    assert [e["action"] for e in entries(ppe)][-1] == "Отключение средства видеозаписи"
    assert due().startswith("window closed")  # once: a start after the close is not undone
    cron = ppe("schedule", "due", "--json")  # from cron, every stage at once: recording among them
    assert cron.json["exams"][0]["recording"].startswith("window closed")
