"""The integrity baseline of the exam software folders: every file's size and SHA-256, and
every symbolic link's target (a new link, to a file or a folder, is a change like a new file).

`create` walks the folders and writes a JSON baseline (signed by the station key
when there is one, so a baseline edited to hide a change is caught); `compare` walks
them again and lists what was added, removed or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

FORMAT = "ppe-tech-baseline/1"


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def walk(folders: list[str], progress: Callable[[int], None] | None = None,
         previous: dict | None = None) -> tuple[dict[str, dict], list[str]]:
    """{path: {"size", "mtime_ns", "sha256"}} of every regular file, {path: {"link": target}} of
    every symbolic link (never followed), and unreadable paths.

    With `previous`, a file whose size and mtime are unchanged keeps its hash (fast path
    for `compare`); pass previous=None to hash everything.
    """
    files: dict[str, dict] = {}
    unreadable: list[str] = []
    for folder in folders:
        root = Path(folder)
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: unreadable.append(str(e.filename))):
            dirnames.sort()
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                    if stat.S_ISLNK(st.st_mode):
                        files[str(path)] = {"link": os.readlink(path)}
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    key = str(path)
                    old = (previous or {}).get(key)
                    if old and old["size"] == st.st_size and old["mtime_ns"] == st.st_mtime_ns:
                        digest = old["sha256"]
                    else:
                        digest = _hash(path)
                    files[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
                    if progress:
                        progress(st.st_size)
                except OSError:
                    unreadable.append(str(path))
    return files, unreadable


def document(folders: list[str], files: dict[str, dict], created: str) -> dict:
    return {"format": FORMAT, "created": created, "folders": folders, "files": files}


@dataclass
class Difference:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.added or self.removed or self.changed or self.unreadable)


def compare(baseline: dict, *, trust_mtime: bool = False) -> Difference:
    """Differences between the baseline and the folders now. Hashes every file unless
    `trust_mtime` (then only files whose size or mtime moved are hashed)."""
    before = baseline["files"]
    now, unreadable = walk(baseline["folders"], previous=before if trust_mtime else None)
    diff = Difference(unreadable=unreadable)
    diff.added = sorted(set(now) - set(before))
    diff.removed = sorted(set(before) - set(now))
    diff.changed = sorted(p for p in set(now) & set(before) if _identity(now[p]) != _identity(before[p]))
    return diff


def _identity(entry: dict) -> tuple:
    """What must stay the same: a link's target, a file's size and hash."""
    if "link" in entry:
        return ("link", entry["link"])
    return ("file", entry.get("size"), entry.get("sha256"))


def load(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        raise ValueError(f"not a ppe-tech baseline ({FORMAT})")
    return doc
