"""Where things live: the config file, the data dir, and safe file names.

Defaults follow each platform's convention; `--config`/`PPE_TECH_CONFIG` and
`--data-dir`/`PPE_TECH_DATA` override them, so tests never touch real dirs.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

APP = "ppe-tech"
CONFIG_NAME = "ppe-tech.toml"


def _platform_dir(environ: dict[str, str] | None, platform: str | None, *, windows_var: str, windows_default: str,
                  xdg_var: str, xdg_default: tuple[str, ...]) -> Path:
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if platform == "win32":
        return Path(env.get(windows_var) or str(Path.home() / "AppData" / windows_default)) / APP
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    return Path(env.get(xdg_var) or Path.home().joinpath(*xdg_default)) / APP


def platform_config_dir(environ: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """%APPDATA%\\ppe-tech on Windows, $XDG_CONFIG_HOME/ppe-tech (~/.config/ppe-tech) elsewhere."""
    return _platform_dir(environ, platform, windows_var="APPDATA", windows_default="Roaming",
                         xdg_var="XDG_CONFIG_HOME", xdg_default=(".config",))


def platform_data_dir(environ: dict[str, str] | None = None, platform: str | None = None) -> Path:
    """%LOCALAPPDATA%\\ppe-tech on Windows, $XDG_DATA_HOME/ppe-tech (~/.local/share/ppe-tech) elsewhere."""
    return _platform_dir(environ, platform, windows_var="LOCALAPPDATA", windows_default="Local",
                         xdg_var="XDG_DATA_HOME", xdg_default=(".local", "share"))


def default_config_path(cwd: Path | None = None) -> Path:
    local = (cwd / CONFIG_NAME) if cwd else Path(CONFIG_NAME)
    if local.exists():
        return local
    return platform_config_dir() / CONFIG_NAME


_SAFE = re.compile(r"[^a-z0-9-]+")


def safe_component(name: str) -> str:
    """A name fit to be one path component on every platform: [a-z0-9-], never '.' or ''."""
    cleaned = _SAFE.sub("-", name.lower()).strip("-")
    return cleaned or "unnamed"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 for the last component."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path, 0o700)
    return path
