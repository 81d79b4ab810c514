"""Video benchmarks: recording CPU per camera, gaps at 32 cameras, health wall time.

Baselines measured in the same run:
- CPU of the whole recording side (supervisor + its ffmpegs) per camera, with 16 and
  32 simulated 1080p cameras, against one bare `ffmpeg -c copy` of one of the same
  streams (goal: ours <= 1.2 x bare), and the gaps at 32 cameras (goal: none);
- `cameras health` of 16 cameras against one camera's (goal: <= 1.5 x).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from conftest import ROOT, Simulator, subprocess_env


def _cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and every descendant still alive."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def _config(folder: Path, sim: Simulator, names: list[str], segment: int = 60) -> Path:
    path = folder / "ppe-tech.toml"
    path.write_text(f'[ppe]\ntimezone = "Europe/Moscow"\n[recording]\nsegment = "{segment}s"\n' + sim.config(names),
                    encoding="utf-8")
    return path


def _bare(sim: Simulator, name: str, out: Path) -> subprocess.Popen:
    """A plain `ffmpeg -c copy` of one stream into one file: the baseline."""
    return subprocess.Popen(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
                             "-i", sim.url(name), "-map", "0:v", "-c", "copy", "-f", "mpegts", "-y",
                             str(out / "bare.ts")], stdin=subprocess.DEVNULL)


def ours(sim: Simulator, names: list[str], seconds: float, out: Path) -> tuple[float, float, int, float]:
    """Record `names` with the supervisor while a bare ffmpeg copies the first camera beside it,
    so both meet the same load. Returns (our CPU per wall second, the bare one's, gaps found,
    seconds covered per camera)."""
    from zoneinfo import ZoneInfo

    from video import segments

    folder = out / f"rec-{len(names)}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    config = _config(folder, sim, names)
    proc = subprocess.Popen([sys.executable, "-m", "ppe_tech", "--config", str(config), "--data-dir",
                             str(folder / "data"), "recorder", "run", "--no-journal"], cwd=ROOT, env=subprocess_env(),
                            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = _bare(sim, names[0], folder)
    ps, bare_ps = psutil.Process(proc.pid), psutil.Process(bare.pid)
    time.sleep(5)
    start_wall = time.time()
    c0, b0, t0 = _cpu(ps), _cpu(bare_ps), time.monotonic()
    time.sleep(seconds)
    c1, b1, t1 = _cpu(ps), _cpu(bare_ps), time.monotonic()
    end_wall = time.time()
    bare.terminate()
    bare.wait()
    proc.terminate()
    proc.wait(timeout=30)
    tz = ZoneInfo("Europe/Moscow")
    found = segments.scan(folder / "data" / "recordings", names, tz)
    gaps = sum(len(segments.gaps(n, found[n], start_wall, end_wall)) for n in names)
    covered = sum(min(s.end, end_wall) - max(s.start, start_wall) for n in names for s in found[n]
                  if s.start is not None and s.end is not None and s.end > start_wall and s.start < end_wall)
    return (c1 - c0) / (t1 - t0), (b1 - b0) / (t1 - t0), gaps, covered / len(names)


def health_wall(sim: Simulator, names: list[str], out: Path) -> float:
    folder = out / f"health-{len(names)}"
    folder.mkdir(parents=True, exist_ok=True)
    config = _config(folder, sim, names)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "ppe_tech", "--config", str(config), "--data-dir", str(folder / "data"),
                    "cameras", "health", "--json"], cwd=ROOT, env=subprocess_env(), capture_output=True)
    return time.monotonic() - started


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench video")
    parser.add_argument("--seconds", type=float, default=60.0, help="recording time of each measurement")
    parser.add_argument("--counts", default="16,32", help="camera counts to record")
    parser.add_argument("--size", default="1920x1080")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.split("x"))
    counts = [int(c) for c in args.counts.split(",")]
    cache = out / "sim-cache"
    specs = [{"name": f"cam-{n}", "width": width, "height": height} for n in range(1, max(*counts, 16) + 1)]
    print(f"# video benchmarks ({psutil.cpu_count()} cores, {max(counts)} simulated {args.size} cameras; "
          f"encoding loops once into {cache})", flush=True)
    sim = Simulator(specs, cache)
    try:
        sim_ps = psutil.Process(sim.proc.pid)
        for count in counts:
            names = [f"cam-{n}" for n in range(1, count + 1)]
            s0 = _cpu(sim_ps)
            cpu, bare, gaps, covered = ours(sim, names, args.seconds, out)
            sim_cpu = (_cpu(sim_ps) - s0) / (args.seconds + 5)
            per_camera = cpu / count
            print(f"recording {count:2d} cameras: supervisor + ffmpegs {cpu * 100:5.1f} % of a core, "
                  f"{per_camera * 100:5.2f} % per camera; bare ffmpeg -c copy beside it {bare * 100:5.2f} %; "
                  # a run shorter than a few clock ticks of the baseline's CPU has no ratio to give
                  + (f"ratio {per_camera / bare:4.2f} " if bare > 0 else "ratio n/a (run longer: the baseline "
                     "used less than a clock tick) ")
                  + f"(goal <= 1.2); gaps {gaps} (goal 0 at 32); "
                  f"covered {covered:.1f} of {args.seconds:.0f} s per camera; simulator {sim_cpu * 100:.0f} %",
                  flush=True)
        one = health_wall(sim, ["cam-1"], out)
        many = health_wall(sim, [f"cam-{n}" for n in range(1, 17)], out)
        print(f"cameras health: 1 camera {one:5.2f} s, 16 cameras {many:5.2f} s; ratio {many / one:5.2f} "
              f"(goal <= 1.5)", flush=True)
    finally:
        sim.stop()
