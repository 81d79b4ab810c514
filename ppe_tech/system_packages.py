"""How to get a system program ppe-tech calls (ffmpeg, clamd, the PostgreSQL server), said for
the system it runs on: «Astra Linux: apt-get install ffmpeg» on an Astra station, the portable
zip on Windows, every family when the system is not known. The offline bundle's install.sh
says the same for ffmpeg and clamd (tests/test_install.py holds the two together)."""

from __future__ import annotations

import sys
from pathlib import Path

from ppe_tech.messages import _

# family: (its name in a hint, the installer's command); a system belongs to the first family
# among its os-release ID and ID_LIKE words
FAMILIES = {
    "debian": ("Debian, Astra Linux", "apt-get install"),
    "altlinux": ("ALT", "apt-get install"),
    "redos": ("RED OS", "dnf install"),
}
MEMBERS = {"debian": "debian", "astra": "debian", "ubuntu": "debian", "altlinux": "altlinux",
           "redos": "redos", "rhel": "redos", "fedora": "redos", "centos": "redos"}
# program: its packages per family
PACKAGES = {
    "ffmpeg": {"debian": "ffmpeg", "altlinux": "ffmpeg", "redos": "ffmpeg"},
    "clamd": {"debian": "clamav clamav-daemon", "altlinux": "clamav clamd", "redos": "clamav clamd"},
    "postgresql": {"debian": "postgresql", "altlinux": "postgresql16-server", "redos": "postgresql-server"},
}
PROGRAM_OF = {"ffprobe": "ffmpeg", "clamd": "clamd", "ffmpeg": "ffmpeg", "postgresql": "postgresql"}


def os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of /etc/os-release (quotes removed)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def family(release_file: Path = Path("/etc/os-release")) -> tuple[str, str] | None:
    """(family, the system's own name) of this Linux, from os-release; None when not known."""
    try:
        info = os_release(release_file.read_text(encoding="utf-8"))
    except OSError:
        return None
    words = [info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()]
    for word in words:
        if word in MEMBERS:
            return MEMBERS[word], info.get("NAME") or info.get("ID", "")
    return None


def command(programs: list[str], fam: str) -> str:
    """The one command that installs `programs` on a system of family `fam`."""
    packages = dict.fromkeys(p for program in programs for p in PACKAGES[PROGRAM_OF[program]][fam].split())
    return f"{FAMILIES[fam][1]} {' '.join(packages)}"


def hint(program: str, platform: str = sys.platform, release_file: Path = Path("/etc/os-release")) -> str:
    """How to get `program` (ffmpeg, ffprobe, clamd, postgresql) here, in one line."""
    program = PROGRAM_OF[program]
    if platform == "win32":
        return {"ffmpeg": _("the portable ppe-tech for Windows carries ffmpeg.exe and ffprobe.exe next to "
                           "ppe-tech.cmd; otherwise put them in a folder on PATH"),
                "clamd": _("ClamAV for Windows: clamd.exe listening on TCP (TCPSocket in clamd.conf)"),
                "postgresql": _("the PostgreSQL installer for Windows, from postgresql.org")}[program]
    known = family(release_file)
    if known is not None:
        return f"{known[1]}: {command([program], known[0])}"
    return "; ".join(f"{name}: {command([program], fam)}" for fam, (name, _cmd) in FAMILIES.items())
