"""Segments left by a power cut: repaired where they can be, set aside where not, never lost.

The recorder writes MPEG-TS flushed packet by packet, so a cut leaves at most the segment
each ffmpeg had open: empty (the file was created, nothing reached the disk), ending in a
partial 188-byte packet, or unreadable. Only those newest segments are looked at. A
readable file with a partial last packet loses that fragment (kept aside); an unreadable
one is remuxed by ffmpeg with its timestamps; what cannot be read even then, and every
empty file, moves to the camera's `.damaged/` folder, which segment listings and the
archive ignore. Every original byte stays on disk.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from video import ffmpeg, segments

PACKET = 188
DAMAGED = ".damaged"


@dataclass
class Repair:
    camera: str
    segment: str  # file name
    outcome: str  # trimmed | remuxed | set-aside
    detail: str
    kept: str | None = None  # where the original bytes went

    def as_json(self) -> dict:
        return {"camera": self.camera, "segment": self.segment, "outcome": self.outcome, "detail": self.detail,
                "kept": self.kept}


def _aside(path: Path, suffix: str = "") -> Path:
    folder = path.parent / DAMAGED
    folder.mkdir(exist_ok=True)
    target = folder / (path.name + suffix)
    n = 1
    while target.exists():
        target = folder / f"{path.name}{suffix}.{n}"
        n += 1
    return target


def _readable(path: Path, camera: str, tz: ZoneInfo) -> bool:
    info = segments.probe(path, camera, tz)
    return info.error is None and info.frames > 0


def _remux(path: Path, out: Path) -> bool:
    try:
        done = subprocess.run([ffmpeg.tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-fflags", "+discardcorrupt",
                               "-i", str(path), "-map", "0:v:0", "-c", "copy", "-copyts", "-muxdelay", "0",
                               "-muxpreload", "0", "-f", "mpegts", str(out)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and out.exists() and out.stat().st_size > 0


def repair_segment(path: Path, camera: str, tz: ZoneInfo) -> Repair | None:
    """Make one segment readable, or set it aside; None when it was fine as it was."""
    size = path.stat().st_size
    if size == 0:
        target = _aside(path)
        os.replace(path, target)
        return Repair(camera, path.name, "set-aside", "empty", str(target))
    if _readable(path, camera, tz):
        tail = size % PACKET
        if not tail:
            return None
        target = _aside(path, ".tail")
        with open(path, "rb") as src:
            src.seek(size - tail)
            target.write_bytes(src.read())
        os.truncate(path, size - tail)
        return Repair(camera, path.name, "trimmed", f"partial last packet ({tail} bytes)", str(target))
    fixed = path.with_name(f".{path.name}.remux")
    if _remux(path, fixed) and _readable(fixed, camera, tz):
        target = _aside(path, ".orig")
        shutil.copy2(path, target)
        os.replace(fixed, path)
        return Repair(camera, path.name, "remuxed", "unreadable; remuxed", str(target))
    fixed.unlink(missing_ok=True)
    target = _aside(path)
    os.replace(path, target)
    return Repair(camera, path.name, "set-aside", "unreadable", str(target))


def after_cut(root: Path, cameras: list[str], tz: ZoneInfo, before: float, newest: int = 2) -> list[Repair]:
    """Look at each camera's `newest` segments last written before `before` (epoch; those open
    at the cut, not the ones a resumed recorder writes now) and every empty one, in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    suspects: list[tuple[Path, str]] = []
    for camera in cameras:
        paths = [p for p in segments.files(root, camera) if p.stat().st_mtime < before]
        for path in dict.fromkeys([*paths[-newest:], *(p for p in paths if p.stat().st_size == 0)]):
            suspects.append((path, camera))
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda item: repair_segment(item[0], item[1], tz), suspects))
    return [o for o in outcomes if o is not None]
