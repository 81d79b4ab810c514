"""Pre-exam check benchmarks.

- The default profile without the scan, everything passing (a real clamd for the
  antivirus status, a baseline, a listening host, ffmpeg as required software), wall
  time of the whole `ppe-tech check run` process: goal < 2 s. The same with one check
  made to hang (a required program that sleeps), timeout 1 s: goal < timeout + 1 s.
- Scanning about 500 MB through clamd (signatures loaded once, MULTISCAN on both
  cores) against `clamscan` of the same folder (loads the signatures every run):
  goal >= 5x faster. No signatures can be downloaded here, so the database is built
  locally: the EICAR signature plus 8 million synthetic MD5 hash signatures (about the
  signature count of ClamAV's main and daily databases), so that loading costs what a
  real database costs; clamscan's load time alone is printed too. clamd's cache of
  clean files is disabled for this figure, so every scan really scans; a second figure
  is clamd as installed (cache on) re-checking unchanged files, as the day's later
  pre-checks do. Where ClamAV's real databases can be had, `--database DIR` measures
  against them: `.venv/bin/python bench/run.py check --database /var/lib/clamav`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from checks import localclam
from conftest import ROOT, subprocess_env

def make_database(folder: Path, hashes: int, bodies: int) -> Path:
    marker = folder / f".made-v2-{hashes}-{bodies}"  # v2: split .hdb files
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(20260601)
    localclam.eicar_database(folder)
    sizes = [rng.randrange(1000, 5_000_000) for _ in range(20_000)]  # real databases repeat sizes a lot;
    per_file = 2_000_000  # and split them: one huge size table makes libclamav's pool allocator fail
    for part in range((hashes + per_file - 1) // per_file):
        with open(folder / f"synthetic{part}.hdb", "w", encoding="ascii") as out:
            for i in range(part * per_file, min(hashes, (part + 1) * per_file)):
                out.write(f"{rng.getrandbits(128):032x}:{rng.choice(sizes)}:Ppe.Synthetic.Hash-{i}\n")
    if bodies:
        with open(folder / "synthetic.ndb", "w", encoding="ascii") as out:
            for i in range(bodies):
                out.write(f"Ppe.Synthetic.Body-{i}:0:*:{rng.getrandbits(160):040x}\n")
    marker.write_text("ok")
    return folder


def make_files(folder: Path, megabytes: int) -> Path:
    marker = folder / f".made-{megabytes}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "bin").mkdir(parents=True)
    rng = random.Random(7)
    for i in range(megabytes // 2):  # 2 MB "binaries": random bytes with some text
        data = rng.randbytes(2_000_000 - 4096) + b"ExamStation module %d\n" % i * 170
        (folder / "bin" / f"module{i:03d}.dll").write_bytes(data[:2_000_000])
    marker.write_text("ok")
    return folder


def timed(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench check")
    parser.add_argument("--megabytes", type=int, default=500, help="how much to scan")
    parser.add_argument("--hashes", type=int, default=8_000_000, help="synthetic hash signatures")
    parser.add_argument("--bodies", type=int, default=0, help="synthetic body signatures")
    parser.add_argument("--database", type=Path, help="a real ClamAV database folder (main.cvd, daily.cvd, "
                        "bytecode.cvd, e.g. from a clamav-cvdupdate mirror) instead of the synthetic one")
    args = parser.parse_args(argv)
    if localclam.clamd_program() is None:
        raise SystemExit("clamd is not installed (make bench installs it through scripts/bootstrap.sh)")
    work = out / "check"
    work.mkdir(parents=True, exist_ok=True)
    if args.database is not None and not any(args.database.glob("*.c[vl]d")):
        raise SystemExit(f"--database {args.database}: no .cvd or .cld files there")
    db = args.database.resolve() if args.database else make_database(work / "db", args.hashes, args.bodies)
    exam = make_files(work / "exam-station", args.megabytes)
    size_mb = sum(p.stat().st_size for p in exam.rglob("*.dll")) / 1e6
    daemon = localclam.LocalClamd(work, db, extra="DisableCache yes\n", timeout=600)
    sock, load_s = daemon.socket, daemon.load_seconds
    loading = daemon.errors.read_text(errors="replace")
    if "LibClamAV Error" in loading:  # a half-loaded database would make every figure below meaningless
        daemon.stop()
        raise SystemExit(f"clamd reported errors while loading {db}: {loading.strip().splitlines()[0]}")
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        data = work / "data"
        shutil.rmtree(data, ignore_errors=True)
        config = work / "ppe-tech.toml"
        base_config = (f'[ppe]\nregion = "77"\ncode = "0123"\n[checks]\nexam_software = ["{exam}"]\n'
                       f'hosts = ["127.0.0.1:{listener.getsockname()[1]}"]\ntimeout = "{{timeout}}"\n'
                       f'[antivirus]\nengine = "clamav"\nclamd_socket = "{sock}"\ndatabase = "{db}"\n'
                       '[[checks.required]]\nname = "ffmpeg"\ncommand = ["ffmpeg", "-version"]\nversion = ">=4"\n')
        config.write_text(base_config.replace("{timeout}", "20s"))
        env = subprocess_env(PPE_TECH_CONFIG=str(config), PPE_TECH_DATA=str(data))
        cli = [sys.executable, "-m", "ppe_tech"]
        subprocess.run([*cli, "check", "baseline", "create"], env=env, cwd=ROOT, check=True, capture_output=True)
        from checks.builtin import CHECKS

        profile = ",".join(c.id for c in CHECKS if c.id != "antivirus.scan")

        def run_profile() -> subprocess.CompletedProcess:
            return subprocess.run([*cli, "check", "run", "--only", profile, "--json", "--no-journal"], env=env,
                                  cwd=ROOT, capture_output=True, text=True)
        first = run_profile()
        import json

        statuses = {c["id"]: c["status"] for c in json.loads(first.stdout)["checks"]}
        t_profile = timed(run_profile, 5)
        what = (f"the database in {db}" if args.database else
                f"{args.hashes:,} synthetic hash + {args.bodies:,} body signatures")
        print(f"# check benchmarks: clamd loaded {what} in {load_s:.1f} s", flush=True)
        print(f"default profile without the scan: {t_profile:.2f} s wall, whole process, median of 5 "
              f"(goal < 2 s); verdicts: {', '.join(f'{k}={v}' for k, v in statuses.items())}", flush=True)
        config.write_text(base_config.replace("{timeout}", "1s")
                          + f'[[checks.required]]\nname = "hangs"\ncommand = ["{sys.executable}", "-c", '
                            '"import time; time.sleep(60)"]\n')
        t_hang = timed(run_profile, 3)
        print(f"the same with one check hanging, timeout 1 s: {t_hang:.2f} s wall (goal < 2 s = timeout + 1 s)",
              flush=True)
        config.write_text(base_config.replace("{timeout}", "20s"))
        scan = [*cli, "check", "run", "--only", "antivirus.scan", "--json", "--no-journal"]
        subprocess.run(scan, env=env, cwd=ROOT, capture_output=True)  # warm: the files in the page cache
        t_clamd = timed(lambda: subprocess.run(scan, env=env, cwd=ROOT, capture_output=True, check=True), 3)
        empty = work / "empty.txt"
        empty.write_text("")
        t_load = timed(lambda: subprocess.run(["clamscan", "--no-summary", "-d", str(db), str(empty)],
                                              capture_output=True), 1)
        t_clamscan = timed(lambda: subprocess.run(["clamscan", "--no-summary", "--infected", "-r", "-d", str(db),
                                                   str(exam)], capture_output=True), 2)
        print(f"antivirus.scan of {size_mb:.0f} MB through clamd, every byte scanned (cache off): {t_clamd:.2f} s "
              f"({size_mb / t_clamd:.0f} MB/s); clamscan of the same folder: {t_clamscan:.2f} s (of which "
              f"{t_load:.2f} s loading signatures); ratio {t_clamscan / t_clamd:.1f}x faster (goal >= 5x)", flush=True)
    finally:
        listener.close()
        daemon.stop()
    # clamd as installed (its cache of clean files on): the day's later checks of unchanged exam software
    with localclam.LocalClamd(work, db, timeout=600) as cached:
        config.write_text(base_config.replace("{timeout}", "20s").replace(str(sock), str(cached.socket)))
        subprocess.run(scan, env=env, cwd=ROOT, capture_output=True, check=True)  # the first check of the day
        t_cached = timed(lambda: subprocess.run(scan, env=env, cwd=ROOT, capture_output=True, check=True), 3)
    print(f"the same through clamd with its cache of clean files on (as installed; a later check of unchanged "
          f"files): {t_cached:.2f} s; ratio {t_clamscan / t_cached:.1f}x faster than clamscan", flush=True)
