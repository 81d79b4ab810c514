"""Camera clocks: read them all at once, set those that are off on a second boundary, verify.

The time burnt into the picture is evidence, so a set is measured afterwards to a few
hundredths of a second (`Camera.precise_offset`). A set is sent half a round trip
before the second it names, so the camera receives it at about that second. A
camera on NTP is pointed at `ntp_server` when one is configured instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ppe_tech.messages import M
from video.onvif.client import Camera
from video.onvif.soap import OnvifError

BATTERYLESS_YEAR = 2000  # a clock before this came back from a reboot without its time


def posix_tz(name: str) -> str:
    """The POSIX TZ string of an IANA zone ('Europe/Moscow' -> 'MSK-3'), which ONVIF wants:
    the footer of its TZif file, else built from today's offset."""
    import zoneinfo

    for base in zoneinfo.TZPATH:
        path = Path(base) / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if data.startswith(b"TZif") and data.endswith(b"\n"):
            footer = data[:-1].rsplit(b"\n", 1)[-1].decode("ascii", "replace").strip()
            if footer:
                return footer
    now = datetime.now(zoneinfo.ZoneInfo(name))
    minutes = int(now.utcoffset().total_seconds() // 60)
    sign = "-" if minutes >= 0 else "+"  # POSIX counts west of Greenwich as positive
    hours, rest = divmod(abs(minutes), 60)
    abbr = now.tzname() or "LST"
    abbr = abbr if abbr.isalpha() else f"<{abbr}>"
    return f"{abbr}{sign}{hours}" + (f":{rest:02d}" if rest else "")


def posix_offset(tz: str) -> float | None:
    """Seconds east of UTC of a POSIX TZ string's standard time ('MSK-3' -> 10800), or None."""
    import re

    m = re.match(r"^(?:<[^>]+>|[A-Za-z]{3,})([+-]?)(\d{1,2})(?::(\d{2}))?", tz or "")
    if not m:
        return None
    seconds = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60
    return -seconds if m.group(1) != "-" else seconds  # POSIX counts west of Greenwich as positive


@dataclass
class ClockReport:
    """One camera's clock, as `cameras clock` and the pre-check report it."""
    id: str
    offset_s: float | None = None
    timezone: str = ""
    local_time: str = ""
    ntp: bool = False
    reset: bool = False  # the clock is before 2000: it lost its time
    ok: bool = False
    set: bool = False
    offset_before_s: float | None = None
    error: str | None = None
    notes: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"id": self.id, "offset_s": _round(self.offset_s), "timezone": self.timezone,
                "local_time": self.local_time, "ntp": self.ntp, "reset": self.reset, "ok": self.ok, "set": self.set,
                "offset_before_s": _round(self.offset_before_s), "error": self.error,
                "notes": [str(n) for n in self.notes]}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)




def read(camera_id: str, camera: Camera, max_offset: float, wanted_tz: str = "") -> ClockReport:
    """The camera's clock against the station's (no credentials needed)."""
    report = ClockReport(camera_id)
    try:
        reading = camera.clock()
    except OnvifError as exc:
        report.error = str(exc.message)
        return report
    report.offset_s = reading.offset
    report.timezone = reading.timezone
    report.local_time = reading.local.isoformat(sep=" ") if reading.local else ""
    report.ntp = reading.ntp
    if reading.utc is None:
        report.error = str(M("the camera does not report its UTC time"))
        return report
    if reading.utc.year < BATTERYLESS_YEAR:
        report.reset = True
        report.notes.append(M("the camera's clock says {year}: it lost its time (a reboot without a battery?)",
                              year=reading.utc.year))
    report.ok = abs(reading.offset or 0.0) <= max_offset
    zone = posix_offset(wanted_tz)
    if zone and reading.offset is not None and not report.ok and abs(reading.offset - zone) <= max(2.0, max_offset):
        report.notes.append(M("the camera's UTC is ahead by exactly its zone's offset ({hours:+g} h): it keeps local "
                              "time as UTC; `ppe-tech cameras clock --set` sets UTC and the zone", hours=zone / 3600))
    if wanted_tz and reading.timezone != wanted_tz:
        report.notes.append(M("time zone {tz}, the exam point's is {wanted}: the picture shows another local time",
                              tz=reading.timezone or "?", wanted=wanted_tz))
    report.notes.extend(camera.notes)
    return report


def set_clock(camera_id: str, camera: Camera, tz: str, max_offset: float, *, ntp_server: str = "",
              force: bool = False, clock: Callable[[], float] = time.time) -> ClockReport:
    """Set a camera that is off (or `force`): Manual UTC on the next second boundary and the
    zone `tz`; a camera on NTP gets `ntp_server` (SetNTP) when one is given. Then verify."""
    report = read(camera_id, camera, max_offset)
    if report.error is not None:
        return report
    report.offset_before_s = report.offset_s
    zone_right = report.timezone == tz
    if report.ok and zone_right and not force and (not report.ntp or not ntp_server):
        return report
    try:
        if report.ntp and ntp_server:
            camera.set_ntp(ntp_server)
            camera.set_timezone_ntp(tz)
            report.notes.append(M("the camera keeps NTP time; pointed at {server}", server=ntp_server))
        else:
            camera.measure_offset()  # the token is signed against the camera's current clock
            rtt = _round_trip(camera)
            target = int(clock()) + 1
            if target - rtt / 2 - clock() < 0.05:  # too close to prepare: take the next second
                target += 1
            wait = target - rtt / 2 - clock()
            if wait > 0:
                time.sleep(wait)
            camera.set_clock(datetime.fromtimestamp(target, timezone.utc), tz)
        report.set = True
        after = camera.precise_offset()
    except OnvifError as exc:
        report.error = str(exc.message)
        report.ok = False
        return report
    report.offset_s = after
    report.ok = abs(after) <= max_offset
    report.ntp = report.ntp and bool(ntp_server)
    try:
        reading = camera.clock()
        report.timezone = reading.timezone
        report.local_time = reading.local.isoformat(sep=" ") if reading.local else ""
    except OnvifError:
        pass
    if report.reset:
        report.notes = report.notes[1:]  # the note that it lost its time, now set
        report.reset = after + time.time() < 946684800  # still before 2000?
    report.notes += [n for n in camera.notes if n not in report.notes]
    return report


def _round_trip(camera: Camera) -> float:
    reading = camera.clock()
    return max(0.0, reading.received - reading.sent)
