"""Key files private to the current user on Windows, where mode 0600 means nothing.

POSIX gets `chmod 0600` from the caller. On Windows the file's ACL is replaced with one entry,
full control for the current user, inheritance removed (`icacls FILE /inheritance:r /grant:r
USER:(F)`, an argument list, no shell), then read back with `icacls FILE`: any other
principal left on it is an environment error (exit 3). Wine's icacls is a silent stub (exit 0,
no output): there the ACL is reported as not verified instead of being trusted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ppe_tech.errors import EnvironmentFailure
from ppe_tech.messages import _

_SUMMARY = re.compile(r"^Successfully processed \d+ files; Failed processing (\d+) files", re.M)
_ENTRY = re.compile(r"(?P<who>[^\s:][^:]*?):(?P<rights>(?:\([A-Z,]+\))+)\s*$")


def current_user() -> str:
    """DOMAIN\\user as icacls names the current user."""
    user = os.environ.get("USERNAME") or os.environ.get("USER") or ""
    domain = os.environ.get("USERDOMAIN", "")
    return f"{domain}\\{user}" if domain else user


def restrict_args(path: Path, user: str) -> list[str]:
    return ["icacls", str(path), "/inheritance:r", "/grant:r", f"{user}:(F)"]


def parse_icacls(text: str, path: Path) -> list[tuple[str, str]]:
    """The (principal, rights) entries of `icacls FILE` output: the first follows the path."""
    entries = []
    name = str(path)
    for line in text.splitlines():
        if not line.strip() or _SUMMARY.match(line.strip()):
            continue
        body = line[len(name):] if line.startswith(name) else line
        match = _ENTRY.search(body.strip()) if body.strip() else None
        if match:
            entries.append((match["who"].strip(), match["rights"]))
    return entries


def judge(entries: list[tuple[str, str]], user: str) -> bool | None:
    """True: only `user`, with full control; None: nothing to judge (no ACL text); False: others."""
    if not entries:
        return None
    return all(who.lower() == user.lower() and "(F)" in rights for who, rights in entries)


def _decode(data: bytes) -> str:
    """icacls writes UTF-8 or, redirected, the OEM code page (cp866 on a Russian Windows)."""
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("oem", errors="replace")  # the codec exists on Windows only
    except LookupError:
        return data.decode("cp866", errors="replace")


def _icacls(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentFailure(_("cannot run icacls to make {path} private: {error}").format(
            path=args[1], error=exc)) from None
    out = _decode(done.stdout)
    failed = _SUMMARY.search(out)
    if done.returncode != 0 or (failed and failed.group(1) != "0"):
        raise EnvironmentFailure(_("icacls could not make {path} private: {error}").format(
            path=args[1], error=(out.strip() or done.stderr.decode(errors="replace").strip())[:200]))
    return out


def make_private(path: Path) -> bool | None:
    """Restrict `path` to the current user. POSIX: 0600 and True. Windows: the ACL as above;
    True when read back as the user's alone, None when icacls shows no ACL (Wine)."""
    if sys.platform != "win32":
        os.chmod(path, 0o600)
        return True
    user = current_user()
    _icacls(restrict_args(path, user))
    verdict = judge(parse_icacls(_icacls(["icacls", str(path)]), path), user)
    if verdict is False:
        raise EnvironmentFailure(_("{path} is readable by others than {user} after icacls").format(path=path, user=user))
    return verdict
