"""ONVIF benchmarks on 32 simulated cameras, inside a network namespace of their own.

- Discovery: `cameras discover` (WS-Discovery on loopback, then every device described
  at once) against the baseline of the same descriptions asked one camera after another
  by unicast, measured in the same run. Goal: all 32 found within the timeout.
- `cameras clock --set` on 32 cameras whose clocks are off by up to a day: wall time, and
  the residual offset of each camera after the set, measured independently to a few
  hundredths of a second. Goal: <= 1 s for every camera.

The benchmark re-runs itself under `unshare --net` (lo up), so its multicast never
leaves that namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from conftest import Simulator, subprocess_env

PASSWORD = "bench-pass"


def _specs(count: int) -> list[dict]:
    rng = random.Random(16)
    return [{"name": f"cam-{n}", "width": 320, "height": 240, "fps": 5, "user": "admin", "password": PASSWORD,
             "clock_skew": rng.choice([-1, 1]) * rng.uniform(3, 86400)} for n in range(1, count + 1)]


def _ppe(folder: Path, *args: str) -> tuple[int, str, float]:
    ppe_tech = str(Path(sys.executable).with_name("ppe-tech"))
    started = time.monotonic()
    proc = subprocess.run([ppe_tech, "--config", str(folder / "ppe-tech.toml"), "--data-dir", str(folder / "data"),
                           *args], capture_output=True, text=True, env=subprocess_env(), timeout=300)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ppe-tech {' '.join(args)}: {proc.stderr}")
    return proc.returncode, proc.stdout, time.monotonic() - started


def inside(out: Path, count: int, timeout: int) -> None:
    from video.onvif import survey
    from video.onvif.client import Camera

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    folder = out / "onvif"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ppe-tech.toml").unlink(missing_ok=True)
    (folder / "pw").write_text(PASSWORD, encoding="utf-8")
    sim = Simulator(_specs(count), out / "sim-cache")
    try:
        code, stdout, wall = _ppe(folder, "cameras", "discover", "--timeout", f"{timeout:g}s", "--user", "admin",
                                  "--password-file", str(folder / "pw"), "--write", "--json")
        doc = json.loads(stdout)
        described = [d for d in doc["devices"] if d["error"] is None and d["stream_uri"]]
        addresses = [sim.onvif(name) for name in sim.cameras]
        started = time.monotonic()
        for address in addresses:  # the baseline: one camera after another, by unicast
            survey.describe(address, "admin", PASSWORD, 5.0)
        sequential = time.monotonic() - started
        started = time.monotonic()
        survey.survey([], addresses, "admin", PASSWORD, 5.0)  # what discover does after the probe
        parallel = time.monotonic() - started
        print(f"discover {count} cameras: {len(doc['devices'])} found, {len(described)} described, "
              f"{len(doc['added'])} written (goal: all {count}); command wall {wall:5.2f} s with a {timeout:g} s "
              f"probe; describing the {count} in-process: at once {parallel:5.3f} s, one after another "
              f"{sequential:5.3f} s (ratio {sequential / max(parallel, 1e-6):4.1f}; loopback answers in about a "
              f"millisecond, so the ratio grows with a real network's latency)", flush=True)
        code, stdout, wall = _ppe(folder, "cameras", "clock", "--json")
        before = [abs(c["offset_s"]) for c in json.loads(stdout)["cameras"] if c["offset_s"] is not None]
        code, stdout, wall = _ppe(folder, "cameras", "clock", "--set", "--json")
        result = json.loads(stdout)["cameras"]
        cams = {c["id"]: c for c in result}
        residual = []
        for name in sim.cameras:
            residual.append(abs(Camera(sim.onvif(name), "admin", PASSWORD).precise_offset()))
        errors = [c["id"] for c in cams.values() if c["error"]]
        print(f"cameras clock --set on {count} cameras (off by {min(before):.0f}..{max(before):.0f} s): wall "
              f"{wall:5.2f} s, exit {code}, errors {len(errors)}; residual offset max {max(residual):.3f} s, "
              f"mean {sum(residual) / len(residual):.3f} s (goal <= 1 s each); reported by the command max "
              f"{max(abs(c['offset_s'] or 0) for c in result):.3f} s", flush=True)
    finally:
        sim.stop()


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench onvif")
    parser.add_argument("--cameras", type=int, default=32)
    parser.add_argument("--timeout", type=int, default=2, help="discovery timeout, whole seconds (as the command takes it)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        inside(out, args.cameras, args.timeout)
        return
    print(f"# ONVIF benchmarks ({args.cameras} simulated cameras, in a network namespace of their own)", flush=True)
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    subprocess.run([*unshare, sys.executable, str(Path(__file__).with_name("run.py")), "onvif", "--out", str(out),
                    "--cameras", str(args.cameras), "--timeout", str(args.timeout), "--inside"], check=True,
                   env=subprocess_env())
