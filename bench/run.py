"""Run every benchmark and print its figures with a ratio to a baseline measured in the same run.

    make bench                     # all benchmarks
    .venv/bin/python bench/run.py journal --entries 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benchmarks measure the installed package (make deps installs the wheel), never the
# checkout: only this folder and the test helpers join the path (with PYTHONSAFEPATH, as make
# bench runs it, Python adds not even this script's folder).
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import archive_bench, check_bench, journal_bench, onvif_bench, region_bench, resume_bench, video_bench  # noqa: E402,E401

BENCHES = {"journal": journal_bench.main, "video": video_bench.main, "archive": archive_bench.main,
           "check": check_bench.main, "region": region_bench.main, "onvif": onvif_bench.main,
           "resume": resume_bench.main}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHES)} [all]")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="scratch folder on the real disk")
    args, rest = parser.parse_known_args()
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}")
    for name in args.names or list(BENCHES):
        try:
            BENCHES[name](args.out, rest)
        except subprocess.CalledProcessError as exc:  # a benchmark's own command failed: say which, and why
            said = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            said = said.strip().splitlines()
            print(f"bench {name}: {' '.join(map(str, exc.cmd[-8:]))} exited {exc.returncode}"
                  + (f": {said[-1]}" if said else ""), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
