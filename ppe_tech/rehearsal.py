"""The rehearsal: the exam day tried out without touching the official records.

`ppe-tech --rehearsal COMMAND` (or PPE_TECH_REHEARSAL=1) runs COMMAND against a throwaway
data dir beside the real one (<data dir>-rehearsal) with the real configuration, cameras
included: its own journal (seeded with the public keys of the real one, so everybody
signs with their own key and passphrase), recordings, check reports and archive state.
The real journal, recordings and reports are never written. Every printed document says
«РЕПЕТИЦИЯ» on each page. `ppe-tech exam rehearse` says where it is; `--reset` throws it away.
"""

from __future__ import annotations

import shutil
from pathlib import Path

MARKER = ".ppe-tech-rehearsal"
BASELINE_FILES = ("baseline.json", "baseline.sig")  # the integrity baseline and its signature


def folder_for(real_data_dir: Path) -> Path:
    """The rehearsal's data dir: beside the real one, never inside it."""
    real = Path(real_data_dir)
    return real.with_name(real.name + "-rehearsal")


def prepare(folder: Path, real_data_dir: Path) -> None:
    """Create the rehearsal folder (once), with the real integrity baseline copied in."""
    if (folder / MARKER).exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by ppe-tech --rehearsal; safe to delete\n", encoding="utf-8")
    for name in BASELINE_FILES:
        source = Path(real_data_dir) / "checks" / name
        if source.is_file():
            (folder / "checks").mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / "checks" / name)


def is_rehearsal_folder(folder: Path) -> bool:
    return (folder / MARKER).is_file()
