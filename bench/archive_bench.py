"""Archive benchmarks on about 2 GB of 1080p segments, the page cache dropped before each step.

Baselines measured in the same run:
- our copy+hash pass (read once, hash, write, fsync) against `cp` + `sync` of the same
  files (goal: >= 0.9 x cp's throughput);
- `archive create` whole (join, hash, write, fsync, read back) against `cp` followed by
  `cat` of the copies to /dev/null (goal: <= 1.1 x the time); between the two the page
  cache is dropped, so `cat` reads the medium as our read-back does;
- `archive verify` against `cat` of the same files to /dev/null (goal: >= 0.9 x the raw
  read throughput), and against `sha256sum`.
"""

from __future__ import annotations

import argparse
import statistics
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from conftest import ROOT, subprocess_env
from video import archive as arc
from video import segments

TZ = ZoneInfo("Europe/Moscow")


def drop_caches() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
        return True
    except OSError:
        return False


def make_segments(out: Path, target_bytes: int) -> tuple[Path, datetime, list[Path]]:
    """1080p TS segments of 60 s with wall-clock timestamps matching their names, two cameras."""
    src = out / "archive-src"
    marker = src / f".made-{target_bytes}"
    base_time = datetime(2026, 6, 1, 7, 45, tzinfo=TZ)
    if marker.exists():
        return src, base_time, sorted(src.rglob("*.ts"))
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    base = out / "base-60s-1080p.ts"
    if not base.exists():  # one minute of a moving 1080p picture, encoded once
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1920x1080:rate=15", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast",
                        "-g", "15", "-bf", "0", "-crf", "23", "-pix_fmt", "yuv420p", "-muxdelay", "0", "-muxpreload",
                        "0", "-f", "mpegts", str(base)], check=True)
    made: list[Path] = []
    total, minute = 0, 0
    while total < target_bytes:
        for camera in ("corr-1", "ent-1"):
            when = base_time + timedelta(minutes=minute)
            path = src / camera / f"{camera}_{when:%Y%m%d_%H%M%S}.ts"
            path.parent.mkdir(exist_ok=True)
            offset = when.timestamp() % segments.WRAP
            subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(base),
                            "-c", "copy", "-copyts", "-muxdelay", "0", "-muxpreload", "0", "-output_ts_offset",
                            f"{offset:.6f}", "-f", "mpegts", str(path)], check=True)
            made.append(path)
            total += path.stat().st_size
        minute += 1
    marker.write_text("ok")
    return src, base_time, sorted(made)


REPEATS = 5


Step = tuple[str, Callable[[], object], Callable[[], object] | None]  # label, run, prepare (untimed)


def compare(first: Step, second: Step, repeats: int = REPEATS) -> tuple[float, float]:
    """Median times of two steps run in alternating order, each cold.

    This machine's disk speed drifts by 3x within minutes, so the two sides of a ratio
    are measured in interleaved pairs (a b, b a, a b, ...) and the medians compared.
    """
    times: dict[str, list[float]] = {first[0]: [], second[0]: []}
    for round_ in range(repeats):
        for label, func, prepare in (first, second) if round_ % 2 == 0 else (second, first):
            if prepare is not None:
                prepare()
            if not drop_caches():
                print(f"  (could not drop the page cache before {label})", flush=True)
            start = time.perf_counter()
            func()
            times[label].append(time.perf_counter() - start)
    spread = "   ".join(f"{label}: " + " ".join(f"{t:.2f}" for t in values) + " s" for label, values in times.items())
    print(f"  runs: {spread}", flush=True)
    return statistics.median(times[first[0]]), statistics.median(times[second[0]])


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench archive")
    parser.add_argument("--gib", type=float, default=2.0, help="how much to archive")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="cold runs of each step (the median is taken)")
    args = parser.parse_args(argv)
    src, base_time, files = make_segments(out, int(args.gib * 2**30))
    size = sum(p.stat().st_size for p in files)
    mib = size / 2**20
    print(f"# archive benchmarks: {len(files)} segments, {mib / 1024:.2f} GiB, median of {args.repeats} cold runs each, "
          f"interleaved with its baseline, page cache dropped before each run "
          f"({'yes' if drop_caches() else 'NO: not permitted here'})", flush=True)
    work = out / "archive-work"

    def fresh(name: str) -> Path:
        path = work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    cp_dir = work / "cp"
    ours_dir = work / "ours"

    def cp() -> None:
        subprocess.run(["cp", "-r", str(src / "corr-1"), str(src / "ent-1"), str(cp_dir)], check=True)
        os.sync()

    def our_copy() -> None:  # two files at a time as `archive create` does; then one sync, as the baseline
        from concurrent.futures import ThreadPoolExecutor

        def one(path: Path) -> None:
            readinto, close = arc.file_reader(path)
            try:
                arc.copy_hashed(readinto, ours_dir / path.name, fsync=False)
            finally:
                close()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(one, files))
        os.sync()
    t_cp, t_ours = compare(("cp", cp, lambda: fresh("cp")), ("copy+hash", our_copy, lambda: fresh("ours")),
                         args.repeats)
    print(f"copy+hash pass: {mib / t_ours:7.0f} MiB/s   cp + sync: {mib / t_cp:7.0f} MiB/s   "
          f"ratio {t_cp / t_ours:4.2f} of cp's throughput (goal >= 0.9)", flush=True)

    def cp_then_cat() -> None:  # the copies read back from the medium, as `archive create` reads them
        cp()
        drop_caches()
        subprocess.run(["cat", *map(str, sorted(cp_dir.rglob("*.ts")))], stdout=subprocess.DEVNULL, check=True)
    data = fresh("data")
    (data / "recordings").symlink_to(src, target_is_directory=True)
    # the recording window (start - record_before) opens at the first segment, as on the day
    start = base_time + timedelta(hours=1)
    config = work / "ppe-tech.toml"
    config.write_text('[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
                      f'[[exams]]\nid = "bench"\nstart = "{start:%Y-%m-%dT%H:%M}"\nduration = "3h55m"\nrecord_before = "1h"\n'
                      '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nroom = "коридор"\nurl = "rtsp://127.0.0.1:9/a"\n'
                      '[[cameras]]\nid = "ent-1"\nlocation = "entrance"\nroom = "вход"\nurl = "rtsp://127.0.0.1:9/b"\n',
                      encoding="utf-8")
    env = subprocess_env(PPE_TECH_CONFIG=str(config), PPE_TECH_DATA=str(data), PPE_TECH_PASSPHRASE="bench-passphrase")
    cli = [sys.executable, "-m", "ppe_tech"]
    subprocess.run([*cli, "keys", "create", "--station"], env=env, cwd=ROOT, check=True, capture_output=True)
    # probe the segments once (the index), as a machine that recorded them would have
    subprocess.run([*cli, "recordings", "list", "--json"], env=env, cwd=ROOT, check=True, capture_output=True)
    dest = work / "usb"

    def create() -> None:
        subprocess.run([*cli, "archive", "create", "--exam", "bench", "--to", str(dest), "--mkdir", "--json"], env=env, cwd=ROOT,
                       check=True, capture_output=True)
    t_base, t_create = compare(("cp then cat", cp_then_cat, lambda: fresh("cp")),
                               ("archive create", create, lambda: fresh("usb")), args.repeats)
    print(f"archive create: {t_create:6.1f} s ({mib / t_create:5.0f} MiB/s)   cp then cat of the copies: "
          f"{t_base:6.1f} s   ratio {t_create / t_base:4.2f} (goal <= 1.1)", flush=True)
    folder = next(dest.iterdir())
    archived = sorted(folder.glob("*.ts"))
    amib = sum(p.stat().st_size for p in archived) / 2**20

    def cat() -> None:
        subprocess.run(["cat", *map(str, archived)], stdout=subprocess.DEVNULL, check=True)

    def verify() -> None:
        subprocess.run([*cli, "archive", "verify", str(folder)], env=env, cwd=ROOT, check=True, capture_output=True)

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *map(str, archived)], stdout=subprocess.DEVNULL, check=True)
    t_cat, t_verify = compare(("cat", cat, None), ("archive verify", verify, None), args.repeats)
    t_sha, t_verify2 = compare(("sha256sum", sha256sum, None), ("archive verify", verify, None),
                               repeats=min(2, args.repeats))
    print(f"archive verify: {amib / t_verify:7.0f} MiB/s   cat: {amib / t_cat:7.0f} MiB/s   ratio "
          f"{t_cat / t_verify:4.2f} of cat's throughput (goal >= 0.9)   sha256sum: {amib / t_sha:5.0f} MiB/s "
          f"(ours {t_sha / t_verify2:4.1f} x faster)", flush=True)
