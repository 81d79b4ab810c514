"""Required software (present, the right version) and forbidden processes (remote access, messengers)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


from checks import versions
from checks.model import N_, CheckTimeout, Commands, Foreign, Join, M, Outcome, Plural, failed, passed, processes, skipped, warned

# Remote-access tools and messengers that must not run on an exam station. Matched against
# the process name without extension, lower case; a trailing "*" matches a prefix.
FORBIDDEN = {
    "teamviewer*": "TeamViewer", "tv_w32": "TeamViewer", "tv_x64": "TeamViewer",
    "anydesk*": "AnyDesk", "rustdesk*": "RustDesk", "aa_v3": "Ammyy Admin", "ammyy*": "Ammyy Admin",
    "radmin*": "Radmin", "rserver3": "Radmin Server", "famitrfc": "Radmin",
    "rutserv": "Remote Utilities (RMS)", "rfusclient": "Remote Utilities (RMS)", "romserver": "Remote Utilities",
    "aeroadmin*": "AeroAdmin", "litemanager*": "LiteManager", "romviewer": "LiteManager", "supremo*": "Supremo",
    "getscreen*": "Getscreen.me", "remoting_host": "Chrome Remote Desktop", "winvnc*": "VNC",
    "vncserver*": "VNC", "x11vnc": "VNC", "tvnserver": "TightVNC", "uvnc_service": "UltraVNC",
    "zohoassist*": "Zoho Assist", "splashtop*": "Splashtop", "srserver": "Splashtop", "parsecd": "Parsec",
    "assistant": "Ассистент", "ассистент": "Ассистент",
    "telegram*": "Telegram", "whatsapp*": "WhatsApp", "viber*": "Viber", "discord*": "Discord",
    "skype*": "Skype", "zoom": "Zoom", "icq*": "ICQ", "signal": "Signal", "element": "Element",
    "vk messenger": "VK Мессенджер", "vk_messenger": "VK Мессенджер", "max": "MAX",
}


def _stem(name: str) -> str:
    name = name.strip().lower()
    return name[:-4] if name.endswith(".exe") else name


def matcher(extra: list[str]):
    """A function naming the forbidden product a process name belongs to (or None), and the rule count."""
    rules = dict(FORBIDDEN)
    rules.update({_stem(n): n for n in extra})

    def match(name: str) -> str | None:
        stem = _stem(name)
        for pattern, product in rules.items():
            if pattern.endswith("*") and stem.startswith(pattern[:-1]) or stem == pattern:
                return product
        return None
    return match, len(set(rules.values()))


def forbidden(ctx, cmds: Commands) -> Outcome:
    match, products = matcher(ctx.config.checks.forbidden_processes)
    found: dict[str, list[str]] = {}
    me = os.getpid()
    for info in processes(["pid", "name", "exe"]):
        if info["pid"] == me:
            continue
        names = {info.get("name") or ""}
        if info.get("exe"):
            names.add(Path(info["exe"]).name)
        for name in names:
            product = match(name) if name else None
            if product:
                found.setdefault(product, []).append(f"{name} (pid {info['pid']})")
                break
    if found:
        details = [f"{product}: {', '.join(procs)}" for product, procs in sorted(found.items())]
        return failed(M("forbidden programs running: {names}", names=", ".join(sorted(found))), details,
                      found={p: v for p, v in found.items()})
    return passed(Plural("the {n} forbidden program is not running", "none of {n} forbidden programs is running",
                         products, n=products))


def _registry_version(display_name: str) -> tuple[bool, str | None]:
    """(found, DisplayVersion) of an uninstall entry whose DisplayName starts with `display_name`."""
    import winreg  # type: ignore[import-not-found]

    roots = [(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"),
             (winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"),
             (winreg.HKEY_CURRENT_USER, r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall")]
    for hive, path in roots:
        try:
            root = winreg.OpenKey(hive, path)
        except OSError:
            continue
        with root:
            for i in range(winreg.QueryInfoKey(root)[0]):
                try:
                    with winreg.OpenKey(root, winreg.EnumKey(root, i)) as entry:
                        name = winreg.QueryValueEx(entry, "DisplayName")[0]
                        if str(name).lower().startswith(display_name.lower()):
                            try:
                                return True, str(winreg.QueryValueEx(entry, "DisplayVersion")[0])
                            except OSError:
                                return True, None
                except OSError:
                    continue
    return False, None


def find_one(item, cmds: Commands, registry=None) -> tuple[str, M]:
    """(status, line) for one required program: 'pass', 'fail' or 'skip'."""
    version: str | None = None
    how = ""
    if item.command:
        try:
            code, out, err = cmds.run(list(item.command), timeout=min(10.0, max(0.1, cmds.remaining())))
        except FileNotFoundError:
            return "fail", M("{name}: not found ({program} is not on PATH)", name=item.name,
                             program=Foreign(item.command[0], N_("its program")))
        except CheckTimeout:
            raise
        if code != 0 and not (out or err):
            return "fail", M("{name}: {program} exited with {code}", name=item.name,
                             program=Foreign(item.command[0], N_("its program")), code=code)
        version = versions.find_version(out + "\n" + err)
        how = Foreign(" ".join(item.command), N_("found by its version command"))
    elif item.path:
        path = Path(os.path.expandvars(item.path)).expanduser()
        if not path.exists():
            return "fail", M("{name}: {path} does not exist", name=item.name, path=str(path))
        how = str(path)
        version = None
    elif item.registry:
        if sys.platform != "win32" and registry is None:
            return "skip", M("{name}: a Windows registry entry, not checked on this system", name=item.name)
        found, version = (registry or _registry_version)(item.registry)
        if not found:
            return "fail", M("{name}: no uninstall entry named «{entry}»", name=item.name, entry=item.registry)
        how = M("registry «{entry}»", entry=item.registry)
    else:
        return "fail", M("{name}: nothing to look for (give command, path or registry)", name=item.name)
    if item.version:
        if version is None:
            return "fail", M("{name}: found ({how}) but its version is unknown; {want} required", name=item.name, how=how,
                             want=item.version)
        if not versions.satisfies(version, item.version):
            return "fail", M("{name} {version}: {want} required", name=item.name, version=version, want=item.version)
    return "pass", M("{name} ({how})", name=f"{item.name} {version or ''}".rstrip(), how=how)


def required(ctx, cmds: Commands, registry=None) -> Outcome:
    items = ctx.config.checks.required
    if not items:
        return skipped(M("no required software configured ([[checks.required]])"))
    lines, bad, skipped_n = [], [], 0
    for item in items:
        status, line = find_one(item, cmds, registry)
        lines.append(line)
        if status == "fail":
            bad.append(item.name)
        elif status == "skip":
            skipped_n += 1
    if bad:
        return failed(M("missing or wrong version: {names}", names=", ".join(bad)), lines)
    if skipped_n == len(items):
        return skipped(Join(lines))
    if skipped_n:
        return warned(M("{found} of {n} found; {skipped} not checkable here", found=len(items) - skipped_n, n=len(items),
                        skipped=skipped_n), lines)
    return passed(Plural("{n} found: {names}", "all {n} found: {names}", len(items), n=len(items), names=", ".join(item.name for item in items)), lines)
