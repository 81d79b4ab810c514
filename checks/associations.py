"""Files of the exam's types open: a program is associated with .ods, .odt, .txt ….

Linux: the XDG rules (the MIME applications specification): `mimeapps.list` in the
config and data folders (Default, then Added Associations, less Removed ones), then any
desktop file that declares the type; a desktop file counts only if its program exists.
Windows: the user's choice (`FileExts\\.ext\\UserChoice`), else the class of the
extension, and its `shell\\open\\command`.
"""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Callable

from checks.model import Commands, M, Outcome, failed, passed, skipped

MIME = {"ods": "application/vnd.oasis.opendocument.spreadsheet", "odt": "application/vnd.oasis.opendocument.text",
        "txt": "text/plain", "csv": "text/csv",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def _ini(path: Path) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return parser


def xdg_dirs(env) -> tuple[list[Path], list[Path]]:
    """(config folders, data folders), most important first."""
    home = Path(env.get("HOME") or Path.home())
    config = [Path(env.get("XDG_CONFIG_HOME") or home / ".config")] + \
        [Path(p) for p in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if p]
    data = [Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")] + \
        [Path(p) for p in (env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":") if p]
    return config, data


def desktop_files(data_dirs: list[Path]) -> dict[str, Path]:
    """Desktop file id (sub/app.desktop → sub-app.desktop) → its file; the first folder wins."""
    found: dict[str, Path] = {}
    for base in data_dirs:
        apps = base / "applications"
        if not apps.is_dir():
            continue
        for path in sorted(apps.rglob("*.desktop")):
            found.setdefault(path.relative_to(apps).as_posix().replace("/", "-"), path)
    return found


def _program(exec_line: str) -> str | None:
    try:
        words = shlex.split(exec_line)
    except ValueError:
        return None
    if words and words[0] == "env":  # `env VAR=x prog …`
        words = [w for w in words[1:] if "=" not in w]
    return words[0] if words else None


def usable(path: Path, which: Callable[[str], str | None] = shutil.which) -> dict | None:
    """The [Desktop Entry] of an application whose program exists, else None."""
    ini = _ini(path)
    if ini is None or not ini.has_section("Desktop Entry"):
        return None
    entry = dict(ini["Desktop Entry"])
    if entry.get("Hidden", "").lower() == "true" or entry.get("Type", "Application") != "Application":
        return None
    for key in ("TryExec", "Exec"):
        program = _program(entry.get(key, "")) if entry.get(key) else None
        if key == "Exec" and program is None:
            return None
        if program and not (Path(program).is_file() if program.startswith("/") else which(program)):
            return None
    return entry


def xdg_handler(mime: str, env=os.environ, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The name of the application that opens `mime`, or None."""
    config, data = xdg_dirs(env)
    files = desktop_files(data)
    lists = [c / "mimeapps.list" for c in config] + [d / "applications" / "mimeapps.list" for d in data]
    removed: set[str] = set()
    added: list[str] = []
    for path in lists:
        ini = _ini(path)
        if ini is None:
            continue
        if ini.has_section("Removed Associations"):
            removed |= {i for i in ini["Removed Associations"].get(mime, "").split(";") if i}
        if ini.has_section("Default Applications"):
            for desktop_id in ini["Default Applications"].get(mime, "").split(";"):
                if desktop_id and desktop_id in files and (entry := usable(files[desktop_id], which)):
                    return entry.get("Name") or desktop_id
        if ini.has_section("Added Associations"):
            added += [i for i in ini["Added Associations"].get(mime, "").split(";") if i]
    for desktop_id in added:
        if desktop_id not in removed and desktop_id in files and (entry := usable(files[desktop_id], which)):
            return entry.get("Name") or desktop_id
    for desktop_id, path in files.items():
        if desktop_id in removed:
            continue
        entry = usable(path, which)
        if entry and mime in [t for t in entry.get("MimeType", "").split(";") if t]:
            return entry.get("Name") or desktop_id
    return None


def _winreg(key: str, value: str) -> str | None:
    import winreg  # type: ignore[import-not-found]

    hive_name, _sep, sub = key.partition("\\")
    hive = {"HKCU": winreg.HKEY_CURRENT_USER, "HKCR": winreg.HKEY_CLASSES_ROOT}[hive_name]
    try:
        with winreg.OpenKey(hive, sub) as handle:
            return str(winreg.QueryValueEx(handle, value)[0]) or None
    except OSError:
        return None


def windows_handler(ext: str, registry: Callable[[str, str], str | None] = _winreg) -> str | None:
    """The program that opens `.ext` (its open command), or None."""
    progid = registry(rf"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\FileExts\.{ext}\UserChoice",
                      "ProgId") or registry(rf"HKCR\.{ext}", "")
    if not progid:
        return None
    command = registry(rf"HKCR\{progid}\shell\open\command", "")
    if not command:
        return None
    program = command.split('"')[1] if command.startswith('"') else command.split()[0]
    return Path(program.replace("\\", "/")).name or progid


def file_types(ctx, cmds: Commands, platform: str = sys.platform, env=os.environ,
               registry: Callable[[str, str], str | None] | None = None,
               which: Callable[[str], str | None] = shutil.which) -> Outcome:
    types = [t.lstrip(".").lower() for t in (ctx.file_types or [])]
    if not types:
        return skipped(M("the profile names no file types"))
    lines, missing = [], []
    for ext in types:
        if platform == "win32":
            program = windows_handler(ext, registry or _winreg)
        else:
            program = xdg_handler(MIME[ext], env, which)
        if program:
            lines.append(M(".{ext}: opens in {program}", ext=ext, program=program))
        else:
            missing.append("." + ext)
            lines.append(M(".{ext}: no program opens these files", ext=ext))
    if missing:
        return failed(M("no program opens {types}", types=", ".join(missing)), lines, missing=missing)
    return passed(M("{types} open", types=", ".join("." + t for t in types)), lines)
