"""Run inside a network namespace of the test's own (`unshare -n`, lo up): start simulated
cameras, then the discovery commands given, and print one JSON line of their results.

    python netns_discovery.py SPEC.json CACHE 'ppe-tech args…' ['node client.js …']

Nothing here can reach any network but this namespace's loopback.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests/, for conftest

from conftest import Simulator  # noqa: E402


def main() -> int:
    spec, cache, *commands = sys.argv[1:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sim = Simulator(json.loads(Path(spec).read_text(encoding="utf-8")), Path(cache))
    results = {"cameras": sim.cameras, "runs": []}
    try:
        for command in commands:
            started = time.monotonic()
            proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120,
                                  env=dict(os.environ, PYTHONSAFEPATH="1"))
            results["runs"].append({"command": command, "code": proc.returncode, "out": proc.stdout,
                                    "err": proc.stderr, "seconds": time.monotonic() - started})
    finally:
        sim.stop()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
