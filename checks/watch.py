"""Watching the exam software folders during the exam (watchdog).

Changes are collected and handed over in batches (one per `batch_s`), so a burst of a
thousand files becomes one journal entry, not a thousand. A watched folder that is
deleted and created again is watched again: each folder's parent is watched too, and
the folder's reappearance re-schedules its recursive watch.

A deleted folder's watch is let go of at once: on Windows the watch holds the folder open,
and a folder deleted while it is open stays "delete pending" (it cannot be made again, by
an installer say) until the last handle closes. The event of the deletion is not always
delivered there (the watch's own handle keeps the name), so each batch also looks whether
every watched folder is still there.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

KINDS_RU = {"created": "создан", "deleted": "удалён", "modified": "изменён", "moved": "перемещён"}


@dataclass(frozen=True)
class Change:
    kind: str  # created | deleted | modified | moved
    path: str
    at: datetime
    dest: str | None = None
    is_dir: bool = False

    def as_json(self) -> dict:
        return {"kind": self.kind, "path": self.path, "dest": self.dest, "dir": self.is_dir,
                "at": self.at.isoformat(timespec="seconds")}


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "Watcher"):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.watcher._event(event)


class Watcher:
    def __init__(self, folders: list[str], on_batch: Callable[[list[Change]], None], batch_s: float = 1.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.roots = [Path(f).resolve() for f in folders]
        self.on_batch, self.batch_s, self.clock = on_batch, batch_s, clock
        self.observer = Observer()
        self.handler = _Handler(self)
        self.pending: list[Change] = []
        self.lock = threading.Lock()
        self.watches: dict[Path, object] = {}
        # the observer's own lock: it holds it while it calls the handler (which may re-watch), and
        # unschedule takes it, so one lock, always taken first, cannot deadlock with it
        self.watch_lock = getattr(self.observer, "_lock", None) or threading.RLock()
        self.gone: set[Path] = set()  # roots whose deletion is recorded, until they are back
        self.parents: set[Path] = set()
        self.stopping = threading.Event()
        self._seen_roots: set[Path] = set()

    # -- watching ---------------------------------------------------------------------
    def start(self) -> None:
        for root in self.roots:
            self._watch_root(root)
            parent = root.parent
            if parent.exists() and parent not in self.parents:
                self.observer.schedule(self.handler, str(parent), recursive=False)
                self.parents.add(parent)
        self.observer.start()
        self.flusher = threading.Thread(target=self._flush_loop, name="watch flush", daemon=True)
        self.flusher.start()

    def _watch_root(self, root: Path) -> None:
        with self.watch_lock:
            if not root.is_dir():
                return
            self._unwatch_root(root)
            self.watches[root] = self.observer.schedule(self.handler, str(root), recursive=True)
            self.gone.discard(root)

    def _unwatch_root(self, root: Path) -> None:
        with self.watch_lock:
            old = self.watches.pop(root, None)
            if old is not None:
                try:
                    self.observer.unschedule(old)
                except (KeyError, ValueError, OSError):
                    pass

    def _root_deleted(self, root: Path, is_dir: bool = True) -> None:
        """Let go of a deleted root (recorded once), so that it can be made again."""
        with self.watch_lock:
            self._unwatch_root(root)
            if root in self.gone:
                return
            self.gone.add(root)
        with self.lock:
            self.pending.append(Change("deleted", str(root), self.clock(), None, is_dir))

    def check_roots(self) -> None:
        """A watched folder that is no longer there is let go of; one that is back, watched.

        Windows: an empty watched folder is let go of and watched again at once, as it may be
        one deleted while the watch held it (Wine even shows such a folder as there, and its
        watch is never told); whatever appeared in between is recorded as created."""
        for root in self.roots:
            present = root.is_dir()
            if not present and root in self.watches:
                self._root_deleted(root)
            elif present and root not in self.watches:
                self._watch_root(root)
            elif present and sys.platform == "win32" and _empty(root):
                with self.watch_lock:
                    self._unwatch_root(root)
                    if not root.is_dir():
                        self._root_deleted(root)
                        continue
                    self._watch_root(root)
                    appeared = [] if _empty(root) else list(os.scandir(root))
                with self.lock:
                    self.pending += [Change("created", e.path, self.clock(), None, e.is_dir()) for e in appeared]

    def _event(self, event: FileSystemEvent) -> None:
        path = Path(event.src_path)
        kind = event.event_type
        if kind not in KINDS_RU:
            return  # opened, closed: not changes
        if event.is_directory and kind == "modified":
            return  # a folder's mtime moves with every change inside it: noise
        inside = [r for r in self.roots if path == r or r in path.parents]
        dest = getattr(event, "dest_path", None) or None
        if dest:
            inside = inside or [r for r in self.roots if Path(dest) == r or r in Path(dest).parents]
        if not inside:
            return  # a sibling in the parent folder
        if path in self.roots and kind == "created" and event.is_directory:
            self._watch_root(path)  # the folder is back: watch inside it again
        if dest and Path(dest) in self.roots:
            self._watch_root(Path(dest))
        if path in self.roots and kind == "deleted" and not path.is_dir():
            self._root_deleted(path, event.is_directory)
            return  # recorded there, once
        if path in self.roots and kind == "moved" and not path.is_dir():
            with self.watch_lock:
                self._unwatch_root(path)  # moved away: the move is the record, not a deletion
                self.gone.add(path)
        with self.lock:
            self.pending.append(Change(kind, str(path), self.clock(), dest, event.is_directory))

    # -- batches ----------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self.stopping.wait(self.batch_s):
            self.check_roots()
            self.flush()

    def flush(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch:
            self.on_batch(_squash(batch))

    def stop(self) -> None:
        self.stopping.set()
        self.observer.stop()
        self.observer.join(5)
        self.flush()


def _empty(folder: Path) -> bool:
    """No entry in `folder`; True too when it cannot be listed (on Windows: being deleted)."""
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return True


def _squash(batch: list[Change]) -> list[Change]:
    """One change per path and kind (an editor's save gives several modified events)."""
    seen: dict[tuple[str, str, str | None], Change] = {}
    for change in batch:
        seen.setdefault((change.kind, change.path, change.dest), change)
    return list(seen.values())


def journal_text(batch: list[Change], limit: int = 4) -> str:
    """«Изменение файлов ПО экзамена: изменён …/config.ini; создан …/helper.exe (+3)»."""
    parts = []
    for change in batch[:limit]:
        name = Path(change.path).name or change.path
        where = f"{Path(change.path).parent.name}/{name}" if Path(change.path).parent.name else name
        dest = f" → {Path(change.dest).name}" if change.dest else ""
        parts.append(f"{KINDS_RU[change.kind]} {where}{dest}")
    more = f" (+{len(batch) - limit})" if len(batch) > limit else ""
    return "Изменение файлов ПО экзамена: " + "; ".join(parts) + more


def run_until(watcher: Watcher, deadline: float | None) -> None:
    """Watch until the monotonic `deadline` (None: until interrupted)."""
    watcher.start()
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    finally:
        watcher.stop()
