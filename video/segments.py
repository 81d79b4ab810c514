"""Recorded segments: where they are, what they really cover, and the gaps between them.

Segments are MPEG-TS files `<root>/<camera>/<camera>_<YYYYmmdd>_<HHMMSS>.ts`, named
in the ППЭ's time zone. The recorder writes wall-clock timestamps into them, so a
segment's real start and end come from its packets (probed, not guessed from the
name); the 90 kHz clock wraps every 26.5 hours, and the name only says which turn
of the wrap it is. Packet times also reveal gaps inside a segment. Probe results are
cached in an index keyed by path, size and mtime.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from ppe_tech.outputs import replace
from video import ffmpeg

WRAP = 2**33 / 90000  # seconds after which MPEG-TS timestamps wrap
NAME = re.compile(r"^(?P<camera>[a-z0-9][a-z0-9-]*)_(?P<date>\d{8})_(?P<time>\d{6})\.ts$")
GAP_SECONDS = 2.0


@dataclass
class SegmentInfo:
    camera: str
    path: str
    bytes: int
    start: float | None  # epoch seconds, UTC
    end: float | None
    frames: int
    holes: list[tuple[float, float]]  # gaps inside the segment
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.end - self.start) if self.start is not None and self.end is not None else 0.0


def pattern(root: Path, camera_id: str) -> Path:
    """The strftime pattern ffmpeg names a camera's segments by."""
    return root / camera_id / f"{camera_id}_%Y%m%d_%H%M%S.ts"


def name_time(path: Path, tz: ZoneInfo) -> float | None:
    m = NAME.fullmatch(path.name)
    if not m:
        return None
    local = datetime.strptime(m["date"] + m["time"], "%Y%m%d%H%M%S").replace(tzinfo=tz)
    return local.timestamp()


def unwrap(pts: float, near: float) -> float:
    """The epoch time congruent to `pts` modulo the wrap, nearest to `near`."""
    delta = (pts - near) % WRAP
    if delta > WRAP / 2:
        delta -= WRAP
    return near + delta


def probe(path: Path, camera: str, tz: ZoneInfo) -> SegmentInfo:
    size = path.stat().st_size
    near = name_time(path, tz)
    info = SegmentInfo(camera, str(path), size, None, None, 0, [])
    if near is None:
        info.error = "not a segment name"
        return info
    try:
        proc = subprocess.run([ffmpeg.tool("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
                               "packet=pts_time", "-of", "csv=p=0", str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        info.error = "probe timed out"
        return info
    times = []
    for line in proc.stdout.decode("ascii", "replace").splitlines():
        value = line.strip().rstrip(",")
        if value and value != "N/A":
            try:
                times.append(unwrap(float(value), near))
            except ValueError:
                continue
    # packets without a wall-clock time (the first of a run may carry 0) land far from the name
    good = [t for t in times if abs(t - near) < 3 * 3600]
    if not good:
        info.error = "no readable video" if proc.returncode == 0 else proc.stderr.decode("utf-8", "replace").strip()[-200:]
        return info
    good.sort()
    steps = [b - a for a, b in zip(good, good[1:]) if b > a]
    frame = sorted(steps)[len(steps) // 2] if steps else 0.0
    info.start, info.end, info.frames = good[0], good[-1] + frame, len(good)
    info.holes = [(a, b) for a, b in zip(good, good[1:]) if b - a > GAP_SECONDS]
    return info


class Index:
    """Probe results cached by (path, size, mtime); a changed file is probed again."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries: dict = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self.dirty = False

    def get(self, seg: Path, camera: str, tz: ZoneInfo) -> SegmentInfo:
        st = seg.stat()
        key = str(seg)
        cached = self.entries.get(key)
        if cached and cached["size"] == st.st_size and cached["mtime"] == st.st_mtime_ns:
            doc = dict(cached["info"])
            doc["holes"] = [tuple(h) for h in doc["holes"]]
            return SegmentInfo(**doc)
        info = probe(seg, camera, tz)
        self.entries[key] = {"size": st.st_size, "mtime": st.st_mtime_ns, "info": asdict(info)}
        self.dirty = True
        return info

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.entries), encoding="utf-8")
        replace(tmp, self.path)
        self.dirty = False


def files(root: Path, camera: str) -> list[Path]:
    folder = root / camera
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if NAME.fullmatch(p.name) and p.name.startswith(camera + "_"))


ASSUMED_RATE = 4_000_000 / 8  # bytes/s per camera when nothing was measured yet (4 Mbit/s)


def rate_of(root: Path, camera: str, segment_s: float) -> float | None:
    """Bytes per second of the camera's latest segments; None when it has recorded nothing."""
    latest = files(root, camera)[-3:]
    total = sum(p.stat().st_size for p in latest)
    seconds = len(latest) * segment_s
    return total / seconds if latest and seconds and total else None


def measured_rate(root: Path, camera: str, segment_s: float) -> float:
    """Bytes per second of the camera's latest segments, or an assumed 4 Mbit/s."""
    rate = rate_of(root, camera, segment_s)
    return ASSUMED_RATE if rate is None else rate


def scan(root: Path, cameras: list[str], tz: ZoneInfo, index: Index | None = None,
         since: float | None = None, until: float | None = None) -> dict[str, list[SegmentInfo]]:
    """Every camera's segments that may overlap [since, until], probed, in time order."""
    out: dict[str, list[SegmentInfo]] = {}
    for camera in cameras:
        items = []
        for path in files(root, camera):
            named = name_time(path, tz)
            if named is None:
                continue
            if until is not None and named > until + 60:
                continue
            if since is not None and named < since - 24 * 3600:
                continue
            info = index.get(path, camera, tz) if index else probe(path, camera, tz)
            if since is not None and info.end is not None and info.end < since:
                continue
            items.append(info)
        items.sort(key=lambda s: (s.start if s.start is not None else float("inf")))
        out[camera] = items
    if index:
        index.save()
    return out


@dataclass
class Gap:
    camera: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def as_json(self, tz: ZoneInfo) -> dict:
        return {"camera": self.camera, "start": iso(self.start, tz), "end": iso(self.end, tz),
                "seconds": round(self.seconds, 1)}


def iso(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).astimezone(tz).isoformat(timespec="seconds")


def gaps(camera: str, segments: list[SegmentInfo], since: float | None = None, until: float | None = None,
         minimum: float = GAP_SECONDS) -> list[Gap]:
    """Stretches over `minimum` seconds with no video: between segments, inside them, and at
    the edges of [since, until] when given."""
    spans: list[tuple[float, float]] = []
    for s in segments:
        if s.start is None or s.end is None:
            continue
        pieces, cursor = [], s.start
        for a, b in s.holes:
            pieces.append((cursor, a))
            cursor = b
        pieces.append((cursor, s.end))
        spans.extend(pieces)
    spans.sort()
    out: list[Gap] = []
    cursor = since if since is not None else (spans[0][0] if spans else None)
    if cursor is None:
        return out
    for a, b in spans:
        if until is not None and a >= until:
            break
        if a - cursor > minimum:
            out.append(Gap(camera, cursor, a))
        cursor = max(cursor, b)
    if until is not None and until - cursor > minimum:
        out.append(Gap(camera, cursor, until))
    return out
