"""Resume after a power cut: from `recorder resume` to the first new segment of every camera.

16 simulated cameras record through `cameras start`; a power cut is SIGKILL of the
supervisor and every ffmpeg at once; after `--off` seconds `recorder resume` runs as at
boot. Measured in the same run:
- wall time from `recorder resume` to a new segment of every camera (goal <= 10 s),
  against the same from a cold `cameras start` (the baseline; ratio ~1 means the resume
  costs nothing beyond starting);
- each camera's gap around the cut, as `recordings gaps` reports it, against the real
  length of the cut (goal: within one segment).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import PPE_SECTION, Simulator, subprocess_env

TZ = ZoneInfo("Europe/Moscow")


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppe_tech", "--config", str(folder / "ppe-tech.toml"), "--data-dir",
                           str(folder / "data"), *args], env=subprocess_env(), cwd=folder, capture_output=True,
                          text=True, timeout=120)


def _first_new_segment(folder: Path, names: list[str], since: float, timeout: float = 60) -> float:
    """Seconds until every camera has a non-empty segment named at or after `since`."""
    from video import segments

    deadline = time.monotonic() + timeout
    started = time.monotonic()
    root = folder / "data" / "recordings"
    while time.monotonic() < deadline:
        if all(any(segments.name_time(p, TZ) >= since - 1 and p.stat().st_size > 0 for p in segments.files(root, n))
               for n in names):
            return time.monotonic() - started
        time.sleep(0.05)
    raise SystemExit("resume bench: not every camera recorded again within a minute")


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench resume")
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--segment", type=int, default=2, help="segment length, seconds")
    parser.add_argument("--off", type=float, default=8.0, help="how long the station is off, seconds")
    args = parser.parse_args(argv)
    names = [f"cam-{n}" for n in range(1, args.cameras + 1)]
    sim = Simulator([{"name": n} for n in names], out / "sim-cache")
    folder = out / "resume"
    try:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "ppe-tech.toml").write_text(
            PPE_SECTION + f'[recording]\nsegment = "{args.segment}s"\nstall_timeout = "6s"\n'
            + sim.config(names), encoding="utf-8")
        keys = _cli(folder, "keys", "create", "--station")
        assert keys.returncode == 0, keys.stderr
        print(f"# resume after a power cut ({args.cameras} simulated cameras, {args.segment} s segments, "
              f"off for {args.off:.0f} s)", flush=True)
        t0 = time.time()
        started = _cli(folder, "cameras", "start")
        assert started.returncode == 0, started.stderr
        _first_new_segment(folder, names, t0)
        cold = time.time() - t0  # the command itself included, as for the resume
        time.sleep(3 * args.segment)
        state = json.loads((folder / "data" / "recorder" / "state.json").read_text())
        pids = [state["pid"], *(c["ffmpeg_pid"] for c in state["cameras"].values() if c.get("ffmpeg_pid"))]
        cut = time.time()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(args.off)
        t1 = time.time()
        resumed = _cli(folder, "recorder", "resume", "--json")
        assert resumed.returncode == 0 and json.loads(resumed.stdout)["resumed"], resumed.stderr
        _first_new_segment(folder, names, t1)
        warm = time.time() - t1
        time.sleep(2 * args.segment)
        since = datetime.fromtimestamp(cut - 60, TZ).strftime("%Y-%m-%dT%H:%M")
        gaps = json.loads(_cli(folder, "recordings", "gaps", "--from", since, "--json").stdout)["gaps"]
        from video import segments

        found = segments.scan(folder / "data" / "recordings", names, TZ)
        errors, lengths = [], []
        for name in names:
            first = min(s.start for s in found[name] if s.start is not None and s.start >= t1 - 1)
            mine = [g for g in gaps if g["camera"] == name and datetime.fromisoformat(g["start"]).timestamp() < t1
                    and datetime.fromisoformat(g["end"]).timestamp() > cut]
            real = first - cut  # the camera recorded nothing from the cut until its first new frame
            lengths.append(real)
            errors.append(abs(sum(g["seconds"] for g in mine) - real) if len(mine) == 1 else float("inf"))
        _cli(folder, "cameras", "stop")
        print(f"resume to a new segment of all {args.cameras} cameras: {warm:5.2f} s (goal <= 10 s); "
              f"cold `cameras start` to the same: {cold:5.2f} s; ratio {warm / cold:4.2f}", flush=True)
        print(f"gap per camera against its real cut ({min(lengths):.1f}-{max(lengths):.1f} s): "
              f"worst difference {max(errors):.1f} s, "
              f"median {sorted(errors)[len(errors) // 2]:.1f} s (goal <= one segment, {args.segment} s)", flush=True)
    finally:
        _cli(folder, "cameras", "stop")
        sim.stop()
