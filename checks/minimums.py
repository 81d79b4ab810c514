"""The station's minimums («Приложение 2» of the recommendations): processor cores, memory,
free space on the system disk, the operating system and its version.

The thresholds come from the profile, over which `[checks.minimums]` may set any key. The
system is named by its os-release ID on Linux (astra, altlinux, redos, debian …) and as
`windows` with its version (10.0.19045) on Windows.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from pathlib import Path

import psutil

from checks import versions
from checks.model import Commands, Join, M, Outcome, Plural, failed, passed, skipped
from ppe_tech.system_packages import os_release

GiB = 2**30
_RULE = re.compile(r"^([a-z][a-z0-9_.-]*)\s*(?:(==|>=|<=|>|<)\s*(\d+(?:\.\d+)*))?$")


def this_os(platform_name: str = sys.platform, release_file: Path = Path("/etc/os-release")) -> tuple[str, str, str]:
    """(id, version, pretty name) of the running system; version "" when unknown."""
    if platform_name == "win32":
        version = platform.version()  # 10.0.19045; Windows 11 is 10.0.22000 and later
        return "windows", version, f"Windows {platform.release()} ({version})"
    try:
        info = os_release(release_file.read_text(encoding="utf-8"))
    except OSError:
        return platform_name, "", platform_name
    return info.get("ID", platform_name).lower(), info.get("VERSION_ID", ""), info.get("PRETTY_NAME") or info.get("ID", "")


def os_accepted(os_id: str, version: str, rules: list[str]) -> bool:
    for rule in rules:
        m = _RULE.fullmatch(rule.strip().lower())
        if not m or m.group(1) != os_id:
            continue
        if not m.group(2):
            return True
        if version and re.match(r"^\d+(\.\d+)*", version):
            have = re.match(r"^\d+(\.\d+)*", version).group(0)
            if versions.satisfies(have, f"{m.group(2)}{m.group(3)}"):
                return True
    return False


def system_disk() -> Path:
    if sys.platform == "win32":
        return Path((os.environ.get("SystemDrive") or "C:") + "\\")
    return Path("/")


def minimums(ctx, cmds: Commands, facts: dict | None = None) -> Outcome:
    """Every minimum the profile sets, one line each; fail on any below it. `facts` replaces
    what is measured (tests): cores, memory, free_disk, os (id, version, name)."""
    need = ctx.minimums
    if need is None:
        return skipped(M("no minimums in the profile"))
    facts = facts or {"cores": psutil.cpu_count(logical=True) or 1, "memory": psutil.virtual_memory().total,
                      "free_disk": shutil.disk_usage(system_disk()).free, "os": this_os()}
    lines, low = [], []
    if need.cpu_cores:
        ok = facts["cores"] >= need.cpu_cores
        lines.append(Plural("processor: {n} core (at least {need})", "processor: {n} cores (at least {need})",
                            facts["cores"], n=facts["cores"], need=need.cpu_cores))
        low += [] if ok else [M("processor cores")]
    if need.memory:
        ok = facts["memory"] >= need.memory
        lines.append(M("memory: {have:.1f} GiB (at least {need:.1f} GiB)", have=facts["memory"] / GiB,
                       need=need.memory / GiB))
        low += [] if ok else [M("memory")]
    if need.free_disk:
        ok = facts["free_disk"] >= need.free_disk
        lines.append(M("free space on the system disk: {have:.1f} GiB (at least {need:.1f} GiB)",
                       have=facts["free_disk"] / GiB, need=need.free_disk / GiB))
        low += [] if ok else [M("free disk space")]
    if need.os:
        os_id, version, name = facts["os"]
        ok = os_accepted(os_id, version, need.os)
        lines.append(M("operating system: {name} ({verdict})", name=name,
                       verdict=M("accepted") if ok else M("not among {rules}", rules=", ".join(need.os))))
        low += [] if ok else [M("operating system")]
    if not lines:
        return skipped(M("no minimums in the profile"))

    data = {"cores": facts["cores"], "memory": facts["memory"], "free_disk": facts["free_disk"],
            "os": list(facts["os"])}
    if low:
        return failed(M("below the minimums: {what}", what=Join(low, ", ")), lines, **data)
    return passed(Plural("{n} minimum met", "{n} minimums met", len(lines), n=len(lines)), lines, **data)


