"""How much disk the recording will take: one estimate for the protocol, `cameras start`
and `exam status`.

Need = Σ cameras' bitrate × what is left of the exam's recording window (from now, or from
its start if it has not opened, to its end). A camera's bitrate is measured from its
latest segments; one never recorded is assumed at 4 Mbit/s. The estimate says which it
did, so a reader knows what the number rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from video import segments

NO_EXAM_SPAN = timedelta(hours=4)  # when no exam says how long: half a day's exam with its window


@dataclass(frozen=True)
class Need:
    bytes: int
    seconds: float  # of recording still to come
    rate: float  # bytes per second, all cameras together
    cameras: int
    measured: int  # cameras whose bitrate was measured; the others are assumed
    window: tuple[datetime, datetime] | None  # the recording window it was computed over

    def as_json(self) -> dict:
        return {"bytes": self.bytes, "seconds": round(self.seconds), "mbit_s": round(self.rate * 8 / 1e6, 2),
                "cameras": self.cameras, "measured": self.measured, "assumed": self.cameras - self.measured,
                "assumed_mbit_s": segments.ASSUMED_RATE * 8 / 1e6,
                "window": [w.isoformat() for w in self.window] if self.window else None}


def remaining(exam, tz, now: datetime) -> tuple[timedelta, tuple[datetime, datetime] | None]:
    """What is left of the exam's recording window at `now` (all of it before it opens)."""
    if exam is None:
        return NO_EXAM_SPAN, None
    opens, closes = exam.recording_window(tz)
    return max(timedelta(0), closes - max(now, opens)), (opens, closes)


def need(root: Path, camera_ids: list[str], segment_s: float, exam, tz, now: datetime) -> Need:
    span, window = remaining(exam, tz, now)
    rates = [segments.rate_of(root, cid, segment_s) for cid in camera_ids]
    rate = sum(r if r is not None else segments.ASSUMED_RATE for r in rates)
    return Need(int(rate * span.total_seconds()), span.total_seconds(), rate, len(camera_ids),
                sum(r is not None for r in rates), window)


def exam_for(exams, tz, now: datetime):
    """The exam whose recording window is open now, else the next one to open, else None."""
    windows = sorted(((e.recording_window(tz), e) for e in exams), key=lambda item: item[0][0])
    for (opens, closes), exam in windows:
        if opens <= now < closes:
            return exam
    upcoming = [exam for (opens, _c), exam in windows if opens > now]
    return upcoming[0] if upcoming else None
