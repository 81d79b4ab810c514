"""Key custody: where each private key is kept, and who may fill column 7.

A private key may live in <data dir>/keys or on removable media (`keys create --out`);
the station remembers where such a key was written (no secret, only the path) so that
`keys list` can say where each one is. Column 7 («подпись ответственного») is another
person's confirmation: an entry confirmed by the one who made it is not confirmed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

LOCATIONS = "locations.json"


def _load(keys_dir: Path) -> dict[str, str]:
    try:
        doc = json.loads((keys_dir / LOCATIONS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(doc, dict) else {}


def remember(keys_dir: Path, key_id: str, path: Path) -> None:
    """Note that the private key `key_id` was written to `path` (outside the data dir)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    known = _load(keys_dir)
    known[key_id] = str(path)
    tmp = keys_dir / f".{LOCATIONS}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(known, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, keys_dir / LOCATIONS)


def where(keys_dir: Path, key_id: str, local: set[str]) -> dict:
    """{"place": "here" | "removable" | "unknown", "path": str | None, "present": bool}.

    "here": in the data dir; "removable": written elsewhere by `keys create --out` (present
    when that medium is plugged in now); "unknown": made on another machine, or moved."""
    if key_id in local:
        return {"place": "here", "path": str(keys_dir / f"{key_id}.key"), "present": True}
    elsewhere = _load(keys_dir).get(key_id)
    if elsewhere:
        return {"place": "removable", "path": elsewhere, "present": Path(elsewhere).is_file()}
    return {"place": "unknown", "path": None, "present": False}


def _person(who: dict | None) -> tuple[str, str]:
    who = who or {}
    return who.get("key_id") or "", " ".join(str(who.get("name") or "").lower().split())


def same_person(actor: dict | None, confirmer: dict | None) -> bool:
    """The same key, or two keys of the same named holder."""
    a_id, a_name = _person(actor)
    c_id, c_name = _person(confirmer)
    return bool(a_id and a_id == c_id) or bool(a_name and a_name == c_name)


def self_confirmed(entries: list[dict]) -> list[int]:
    """Numbers of the entries (as `journal list --json`) whose column 7 is their own author's."""
    return [e["number"] for e in entries if e.get("confirmed_by") and same_person(e.get("actor"), e["confirmed_by"])]
