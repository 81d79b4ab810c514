"""What recording is meant to be doing, kept apart from what the supervisor last wrote.

`state.json` says what the supervisor saw (it stops being written when the power goes).
`intent.json` says what a person or the schedule asked: recording on (since when, which
cameras, for which exam, by whom) or off on purpose (when, by whom). Only `cameras start`,
`cameras stop` and the schedule write it; the supervisor never does, so a supervisor
stopped by a shutdown, a crash or a power cut leaves the intent "on", and `recorder resume`
at boot can tell a cut from a deliberate stop.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ppe_tech.outputs import replace

INTENT = "intent.json"


@dataclass
class Intent:
    recording: bool
    cameras: list[str] = field(default_factory=list)
    since: str | None = None  # UTC ISO: when recording was asked for
    by: str = "user"  # user | schedule | resume
    exam: str | None = None  # the exam whose window asked for it (by the schedule)
    stopped: str | None = None  # UTC ISO: when it was stopped on purpose
    stopped_by: str | None = None  # user | schedule
    resumed: list[dict] = field(default_factory=list)  # {"from", "to"}: interruptions resumed after

    @classmethod
    def from_json(cls, doc: dict) -> "Intent":
        known = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc}
        return cls(**known)


def read(state_dir: Path) -> Intent | None:
    try:
        doc = json.loads((state_dir / INTENT).read_text(encoding="utf-8"))
        return Intent.from_json(doc) if isinstance(doc, dict) and isinstance(doc.get("recording"), bool) else None
    except (OSError, ValueError, TypeError):
        return None


def write(state_dir: Path, intent: Intent) -> None:
    """Atomically, and durably: this file is what survives the power cut."""
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{INTENT}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(asdict(intent), out, ensure_ascii=False, indent=1)
        out.flush()
        os.fsync(out.fileno())
    replace(tmp, state_dir / INTENT)
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
