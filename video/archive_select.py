"""Which recordings an archive takes: the cameras, the window, and the continuous runs.

By default the recordings that go to the federal portal: the corridors, the entrance and
the rooms not broadcast online (`broadcast = "offline"`); or the cameras named for a
fragment (an online room's broadcast outage). The segments of each camera overlapping
the window are grouped into runs (a gap over 2 s starts a new run); each run becomes one
file, named and described (SDT) by region, ППЭ, room, camera, date and time range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from video import segments

PORTAL_LOCATIONS = ("corridor", "entrance")  # always offline: never broadcast


_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def name_part(text: str) -> str:
    """Transliterated, lowercase, [a-z0-9-] only: safe on every file system and portal."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum()) else "-" for ch in out)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "x"


@dataclass
class Run:
    """Consecutive segments of one camera with no gap over 2 s between them."""
    camera: str
    room: str
    location: str
    sources: list[segments.SegmentInfo]
    holes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.sources[0].start  # type: ignore[return-value]

    @property
    def end(self) -> float:
        return self.sources[-1].end  # type: ignore[return-value]

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.sources)


def runs_of(camera: str, room: str, location: str, found: list[segments.SegmentInfo], since: float,
            until: float) -> tuple[list[Run], list[segments.SegmentInfo]]:
    """Group readable segments overlapping [since, until] into runs; also the unreadable ones."""
    runs: list[Run] = []
    unreadable = [s for s in found if s.start is None or s.end is None]
    for seg in (s for s in found if s.start is not None and s.end is not None):
        if seg.end <= since or seg.start >= until:  # type: ignore[operator]
            continue
        if runs and seg.start - runs[-1].end <= segments.GAP_SECONDS:  # type: ignore[operator]
            runs[-1].sources.append(seg)
        else:
            runs.append(Run(camera, room, location, [seg]))
        runs[-1].holes.extend(seg.holes)
    return runs, unreadable


def split_at(run: Run, source: str) -> list[Run]:
    """The parts of `run` before and after the segment at path `source` (which is left out)."""
    at = next(i for i, s in enumerate(run.sources) if s.path == source)
    parts = []
    for piece in (run.sources[:at], run.sources[at + 1:]):
        if piece:
            lo, hi = piece[0].start, piece[-1].end
            parts.append(Run(run.camera, run.room, run.location, piece,
                             [h for h in run.holes if lo <= h[0] and h[1] <= hi]))  # type: ignore[operator]
    return parts


def file_name(region: str, ppe: str, run: Run, tz: ZoneInfo) -> str:
    start = datetime.fromtimestamp(run.start, timezone.utc).astimezone(tz)
    end = datetime.fromtimestamp(run.end, timezone.utc).astimezone(tz)
    return (f"{name_part(region or '00')}_{name_part(ppe or '0000')}_{name_part(run.room or run.location)}_"
            f"{name_part(run.camera)}_{start:%Y-%m-%d}_{start:%H%M%S}-{end:%H%M%S}.ts")


def folder_name(region: str, ppe: str, exam_date: str, exam_id: str) -> str:
    return f"{name_part(region or '00')}_{name_part(ppe or '0000')}_{exam_date}_{name_part(exam_id)}"


def service_names(region: str, ppe: str, run: Run, tz: ZoneInfo) -> tuple[str, str]:
    """(provider, name) for an archive file's SDT: «регион 77, ППЭ 0123» and
    «2026-06-01 07:45:00–08:01:00 corr-1 коридор»."""
    start = datetime.fromtimestamp(run.start, timezone.utc).astimezone(tz)
    end = datetime.fromtimestamp(run.end, timezone.utc).astimezone(tz)
    provider = f"регион {region or '—'}, ППЭ {ppe or '—'}"
    name = f"{start:%Y-%m-%d %H:%M:%S}–{end:%H:%M:%S} {run.camera} {run.room or run.location}".strip()
    return provider, name


# -- what an archive takes ------------------------------------------------------------------------

BROADCASTS = ("online", "offline")
KINDS = {"corridor": "коридор", "entrance": "вход", "hq": "штаб ППЭ"}


def for_portal(camera) -> bool:
    """Whether a camera's recording goes to the federal portal by default: corridors, the
    entrance, and the rooms not broadcast online."""
    return camera.location in PORTAL_LOCATIONS or (camera.location == "auditorium"
                                                   and getattr(camera, "broadcast", "online") == "offline")


def kind_of(camera, fragment: bool = False) -> str:
    """What the act calls the recording: «коридор», «вход», «офлайн-аудитория», «онлайн-аудитория (фрагмент)»."""
    if camera.location == "auditorium":
        if getattr(camera, "broadcast", "online") == "offline":
            return "офлайн-аудитория"
        return "онлайн-аудитория (фрагмент)" if fragment else "онлайн-аудитория"
    return KINDS.get(camera.location, camera.location)


@dataclass(frozen=True)
class Selection:
    cameras: list  # of config Camera
    how: str  # "portal" (the default), "locations" or "cameras"
    locations: tuple[str, ...] = ()


def select(cameras: list, *, locations: list[str] | None = None, ids: list[str] | None = None) -> Selection:
    """The cameras an archive takes: those named by `ids`, else those at `locations`, else
    the portal's (corridors, entrance, offline rooms). Unknown ids raise KeyError with them."""
    if ids:
        by_id = {c.id: c for c in cameras}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise KeyError(unknown)
        return Selection([by_id[i] for i in dict.fromkeys(ids)], "cameras")
    if locations:
        return Selection([c for c in cameras if c.location in locations], "locations", tuple(locations))
    return Selection([c for c in cameras if for_portal(c)], "portal")


@dataclass(frozen=True)
class Window:
    """The span of time archived: local (naive) times of the ППЭ and their timestamps."""
    start: datetime
    end: datetime
    tz: ZoneInfo
    fragment: bool = False
    reason: str = ""

    @property
    def since(self) -> float:
        return self.start.replace(tzinfo=self.tz).timestamp()

    @property
    def until(self) -> float:
        return self.end.replace(tzinfo=self.tz).timestamp()


def exam_window(exam, tz: ZoneInfo, margin) -> Window:
    """The exam's recording window (start − record_before to end + record_after), widened by
    the margin: what recording was meant to cover, so gaps are judged over it."""
    opens, closes = exam.recording_window(tz)
    return Window((opens - margin).replace(tzinfo=None), (closes + margin).replace(tzinfo=None), tz)


def parse_window(text: str, day, tz: ZoneInfo, reason: str = "") -> Window:
    """`HH:MM-HH:MM` on `day` (the exam's date); ValueError saying what is expected."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*", text)
    if not m or int(m.group(1)) > 23 or int(m.group(3)) > 23 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
        raise ValueError("HH:MM-HH:MM")
    start = datetime(day.year, day.month, day.day, int(m.group(1)), int(m.group(2)))
    end = datetime(day.year, day.month, day.day, int(m.group(3)), int(m.group(4)))
    if end <= start:
        raise ValueError("end after start")
    return Window(start, end, tz, fragment=True, reason=reason)


def fragment_folder(base: str, window: Window, ids: list[str]) -> str:
    """The folder of a fragment beside the exam's archive: `<base>_fragment-1015-1040[_cams]`."""
    name = f"{base}_fragment-{window.start:%H%M}-{window.end:%H%M}"
    if ids:
        name += "_" + name_part("-".join(ids))[:60].strip("-")
    return name
