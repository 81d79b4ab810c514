"""Prints the lock's requirements as they apply to Windows CPython 3.11 on amd64.

`pip download --platform win_amd64` evaluates environment markers for the host, so a lock made
on Linux loses colorama and tzdata (`sys_platform == 'win32'`) and keeps Linux-only pins. This
evaluates each marker for Windows instead and prints the requirement lines, hashes kept and
markers removed. An override file (same format) replaces the lock's pins of the same names.

    python scripts/windows/winreqs.py requirements/test.txt [requirements/windows-wine.txt]
"""

from __future__ import annotations

import re
import sys

from packaging.markers import Marker

WINDOWS_311 = {
    "os_name": "nt", "sys_platform": "win32", "platform_system": "Windows",
    "platform_machine": "AMD64", "platform_python_implementation": "CPython",
    "implementation_name": "cpython", "python_version": "3.11", "python_full_version": "3.11.9",
    "implementation_version": "3.11.9", "platform_release": "10", "platform_version": "10.0.19045",
    "extra": "",
}


def entries(path: str) -> list[tuple[str, str, list[str]]]:
    """(name, 'name==version', hashes) for each requirement of the lock that applies on Windows."""
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = re.findall(r"--hash=(\S+)", line)
        spec = re.sub(r"--hash=\S+", "", line).strip()
        marker = None
        if ";" in spec:
            spec, marker = (part.strip() for part in spec.split(";", 1))
        if marker and not Marker(marker).evaluate(WINDOWS_311):
            continue
        name = re.split(r"[=<>!~ \[]", spec, 1)[0].lower().replace("_", "-")
        found.append((name, spec, hashes))
    return found


def main(argv: list[str]) -> int:
    lock, *overrides = argv
    chosen = {name: (spec, hashes) for name, spec, hashes in entries(lock)}
    for path in overrides:
        for name, spec, hashes in entries(path):
            chosen[name] = (spec, hashes)
    for name in sorted(chosen):
        spec, hashes = chosen[name]
        print(" ".join([spec] + [f"--hash={h}" for h in hashes]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
