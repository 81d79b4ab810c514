"""Time and size values: parsing what people type, and the clock.

Stored times are UTC ISO-8601 with offset; shown times are in the ППЭ's time zone.
Parsers raise ValueError with a sentence saying what is expected; callers add the
field or option name.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ppe_tech.messages import M

_DURATION_PART = re.compile(r"(\d+)(ms|d|h|m|s)")
_DURATION_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*")
_SIZE_UNITS = {None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOCAL_DT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")
# Dates people type (journal entries, exams) are bounded to years that can be meant, so
# arithmetic on them (an exam's day before, a window's end) never leaves the calendar.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_DURATION = timedelta(days=3660)  # ten years: more is a typo, and would overflow the clock


def parse_duration(text: str) -> timedelta:
    """'60s', '3h55m', '2h', '7d', '500ms' -> timedelta."""
    s = text.strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += int(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise ValueError(M("{text!r} is not a duration (expected e.g. '60s', '3h55m', '7d')", text=text))
    if total > MAX_DURATION.total_seconds():
        raise ValueError(M("{text!r} is too long a duration (at most {days} days)", text=text, days=MAX_DURATION.days))
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_size(text: str) -> int:
    """'10GiB', '500MB', '1024' -> bytes."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(M("{text!r} is not a size (expected e.g. '10GiB', '500MB')", text=text))
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


def parse_hhmm(text: str) -> str:
    if not _HHMM.fullmatch(text):
        raise ValueError(M("{text!r} is not a time of day (expected HH:MM, e.g. 09:45)", text=text))
    return text


def parse_date(text: str) -> date:
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(M("{text!r} is not a date (expected YYYY-MM-DD, e.g. 2026-06-01)", text=text)) from None
    _in_range(text, day)
    return day


def _in_range(text: str, day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(M("{text!r} is outside the years {first}–{last}", text=text, first=FIRST_DAY.year,
                           last=LAST_DAY.year))


def parse_local_datetime(text: str) -> datetime:
    """'2026-06-01T10:00' (local time of the ППЭ, no offset) -> naive datetime."""
    try:
        if not _LOCAL_DT.fullmatch(text):
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(M("{text!r} is not a local date and time (expected YYYY-MM-DDTHH:MM)", text=text)) from None
    _in_range(text, moment.date())
    return moment


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(M("{name!r} is not a known time zone (expected e.g. 'Europe/Moscow')", name=name)) from None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """The one stored form of a moment: UTC, microseconds, '+00:00'. Sorts as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
