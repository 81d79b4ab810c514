"""What this copy of ppe-tech is: its version and the commit its wheel was built from.

The build (setup.py) writes `_build.json` beside this module; a source checkout run
without installing has none and says so.
"""

from __future__ import annotations

import json
from importlib import resources

from ppe_tech import __version__


def build_info() -> dict:
    """{"commit": str | None, "dirty": bool | None}; both None in a source tree."""
    try:
        text = resources.files("ppe_tech").joinpath("_build.json").read_text(encoding="utf-8")
        info = json.loads(text)
    except (OSError, ValueError):
        return {"commit": None, "dirty": None}
    return {"commit": info.get("commit"), "dirty": info.get("dirty")}


def describe() -> str:
    """`0.2.0 (commit 3cce2c2a1b2c)`, `… modified` for a build of uncommitted changes."""
    info = build_info()
    if not info["commit"]:
        return f"{__version__} (source tree, not an installed build)"
    suffix = ", with uncommitted changes" if info["dirty"] else ""
    return f"{__version__} (commit {info['commit'][:12]}{suffix})"
