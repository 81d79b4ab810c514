"""Every benchmark still runs, at its smallest size: figures are measured by `make bench`, not
here, but a bench that no longer runs (an exam window that misses its segments, a config
that `keys create` refuses) would go unnoticed until somebody needs its numbers. Nothing
here is timed; each case asserts the lines the bench prints with a ratio to its baseline."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT, subprocess_env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the benchmarks' baselines are Linux programs "
                                "(cp, cat, sha256sum, clamscan, unshare, the PostgreSQL server)")

SMALLEST = {
    "journal": (["--appends", "20", "--entries", "300", "--print-entries", "200"],
                ["journal.append", "journal.verify   300 entries", "journal.print    200 entries"]),
    "video": (["--seconds", "3", "--counts", "2", "--size", "320x240"],
              ["recording  2 cameras", "cameras health"]),
    "archive": (["--gib", "0.05", "--repeats", "1"], ["copy+hash pass", "archive create:", "archive verify:"]),
    "check": (["--megabytes", "5", "--hashes", "10000"],
              ["default profile without the scan", "one check hanging", "antivirus.scan of"]),
    "region": (["--entries", "300", "--ppe", "3", "--per-ppe", "50"], ["journal push of 300 entries",
                                                                        "region verify of 3 ППЭ"]),
    "onvif": (["--cameras", "3", "--timeout", "1"], ["discover 3 cameras: 3 found, 3 described, 3 written",
                                                     "cameras clock --set on 3 cameras", "errors 0"]),
    "resume": (["--cameras", "2", "--off", "2"], ["resume to a new segment of all 2 cameras", "gap per camera"]),
}


@pytest.mark.parametrize("name", list(SMALLEST))
def test_the_benchmark_runs(name, tmp_path):
    args, expected = SMALLEST[name]
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), name, "--out", str(tmp_path), *args],
                       capture_output=True, text=True, env=subprocess_env(), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for line in expected:
        assert line in r.stdout, (line, r.stdout)
    figures = [line for line in r.stdout.splitlines() if not line.startswith(("#", "  runs:"))]
    assert figures and all("ratio" in line or "goal" in line for line in figures), r.stdout  # each against something
