"""Editing ppe-tech.toml in place: adding [[cameras]] blocks and changing a camera's keys, every
comment and the layout kept.

tomlkit round-trips the document; the result is validated by the same schema as any
load before it replaces the file (atomically), and a file that holds passwords is
written 0600.
"""

from __future__ import annotations

from pathlib import Path

from ppe_tech.app import atomic_output
from ppe_tech.config import parse_config
from ppe_tech.errors import BadInput
from ppe_tech.messages import _


def add_cameras(path: Path, blocks: list[dict], comments: list[str]) -> None:
    """Append `blocks` as [[cameras]] tables (each after its comment line) to the file at `path`
    (created if missing)."""
    import tomlkit

    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise BadInput(_("{path}: not valid TOML: {error}").format(path=path, error=exc)) from None
    cameras = doc.get("cameras")
    if cameras is None:
        cameras = tomlkit.aot()
        doc.append("cameras", cameras)
    elif not isinstance(cameras, tomlkit.items.AoT):
        raise BadInput(_("{path}: cameras is not a list of [[cameras]] tables").format(path=path))
    for block, comment in zip(blocks, comments):
        table = tomlkit.table()
        table.add(tomlkit.comment(comment))
        for key, value in block.items():
            table.add(key, value)
        cameras.append(table)
    result = tomlkit.dumps(doc)
    parse_config(result, str(path))  # never write a file the next command would refuse
    secret = any(":" in _userinfo(str(v)) for b in blocks for v in b.values()) or _secret_before(path)
    _replace(path, result, secret)


def edit_camera(path: Path, camera_id: str, changes: dict) -> None:
    """Set keys of the [[cameras]] table whose id is `camera_id` in the file at `path`, every
    comment and the rest of the layout kept; the result is validated before it replaces the file."""
    import tomlkit

    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(_("{path}: cannot read: {error}").format(path=path, error=exc.strerror or exc)) from None
    except tomlkit.exceptions.ParseError as exc:
        raise BadInput(_("{path}: not valid TOML: {error}").format(path=path, error=exc)) from None
    cameras = doc.get("cameras")
    tables = list(cameras) if isinstance(cameras, tomlkit.items.AoT) else []
    table = next((t for t in tables if t.get("id") == camera_id), None)
    if table is None:
        raise BadInput(_("{path}: no [[cameras]] with id {id!r}").format(path=path, id=camera_id))
    for key, value in changes.items():
        table[key] = value
    result = tomlkit.dumps(doc)
    parse_config(result, str(path))  # never write a file the next command would refuse
    _replace(path, result, _secret_before(path))


def _replace(path: Path, text: str, secret: bool) -> None:
    with atomic_output(path, mode=0o600 if secret else 0o644) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _userinfo(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else ""
    return rest.split("/", 1)[0].rpartition("@")[0]


def _secret_before(path: Path) -> bool:
    try:
        return path.exists() and (path.stat().st_mode & 0o077) == 0
    except OSError:
        return False
