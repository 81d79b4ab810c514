"""The exam day as a timeline: what is done, what is next, read from what the tools left.

Pure functions over facts the CLI gathers (check reports, journal entries, the
recorder's state, the archives registry), so the rules are testable with a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from checks.report import status_word
from checks.schedule import PUSH_AFTER, PRECHECK_EARLY  # a full check this long before the pre-check's time is the pre-check
from ppe_tech.messages import _

PORTAL_DAYS = 3  # offline recordings reach the federal portal within 3 calendar days


@dataclass
class Facts:
    checks: list[dict] = field(default_factory=list)  # reports: {"started", "status", "exam"}
    journal: list[dict] = field(default_factory=list)  # entries as `journal list --json` gives them
    recording: bool = False  # the supervisor runs now
    archives: list[dict] = field(default_factory=list)  # {"exam", "created", "dir", "verified"}
    region: bool = False  # the config names a regional database
    pushes: list[dict] = field(default_factory=list)  # {"at", "held"}: each `journal push` that succeeded
    offline_rooms: list[str] = field(default_factory=list)  # rooms not broadcast online: archived for the portal


@dataclass
class Step:
    key: str
    title: str
    at: datetime
    state: str  # done | next | later | missed | late
    note: str = ""

    def as_json(self) -> dict:
        return {"step": self.key, "title": self.title, "at": self.at.isoformat(timespec="minutes"),
                "state": self.state, "note": self.note}


def _journal_at(entry: dict, tz) -> datetime:
    hh, mm = (entry.get("start") or "00:00").split(":")
    return datetime.combine(date.fromisoformat(entry["date"]), time(int(hh), int(mm)), tz)


def _is_action(text: str, action: str) -> bool:
    """The journal's action column names `action`, alone or with a note in brackets
    («Начало записи (возобновление после перерыва с 10:41)»)."""
    return text == action or text.startswith(action + " (")


def timeline(exam, tz, now: datetime, facts: Facts) -> list[Step]:
    start = exam.start.replace(tzinfo=tz)
    end = start + exam.duration
    check_at = start - exam.precheck_before
    deadline = datetime.combine(start.date() + timedelta(days=PORTAL_DAYS), time(23, 59), tz)
    day_entries = [e for e in facts.journal if e.get("date") == start.date().isoformat()]

    def journaled(action: str, after: datetime | None = None) -> dict | None:
        found = [e for e in day_entries if _is_action(e.get("action") or "", action)
                 and (after is None or _journal_at(e, tz) >= after)]
        return found[-1] if found else None

    steps: list[Step] = []
    ready_at = start - exam.readiness_before
    full = [r for r in facts.checks if r.get("exam") == exam.id and r.get("full")]
    before = [r for r in full if datetime.fromisoformat(r["started"]) < check_at - PRECHECK_EARLY]
    title = _("technical preparation: full check of the station")
    if before:
        done = before[-1]
        ok = done.get("ready", done["status"] in ("pass", "warn"))
        note = _("{status} on {when}").format(
            status=status_word(done["status"]), when=f"{datetime.fromisoformat(done['started']).astimezone(tz):%d.%m %H:%M}")
        steps.append(Step("readiness", title, ready_at, "done" if ok else "missed" if now >= check_at else "late",
                          note + ("" if ok else "; " + _("not ready: fix and run it again"))))
    else:
        state = "missed" if now >= check_at else "late" if now > ready_at + PRECHECK_EARLY else "later"
        steps.append(Step("readiness", title, ready_at, state,
                          _("overdue: it was due by {when}").format(when=f"{ready_at:%d.%m %H:%M}")
                          if state == "late" else ""))
    reports = [r for r in full if datetime.fromisoformat(r["started"]) >= check_at - PRECHECK_EARLY]
    last = reports[-1] if reports else None
    if last:
        ok = last.get("ready", last["status"] in ("pass", "warn"))
        note = _("{status} at {hhmm}").format(status=status_word(last["status"]),
                                               hhmm=f"{datetime.fromisoformat(last['started']).astimezone(tz):%H:%M}")
        steps.append(Step("precheck", _("pre-exam check"), check_at, "done" if ok else "late" if now >= start else "next",
                          note + ("" if ok else "; " + _("fix and run it again"))))
    else:
        steps.append(Step("precheck", _("pre-exam check"), check_at, "missed" if now >= start else "next" if
                          now >= check_at - timedelta(hours=1) else "later"))
    rec_from, rec_to = exam.recording_window(tz)
    started = journaled("Начало записи")
    steps.append(Step("record", _("start of recording"), rec_from,
                      "done" if started or facts.recording else "missed" if now >= start else "later",
                      _("journal entry {n}").format(n=started["number"]) if started
                      else (_("recording now") if facts.recording else "")))
    steps.append(Step("start", _("exam starts"), start, "done" if now >= start else "later"))
    steps.append(Step("end", _("exam ends"), end, "done" if now >= end else "later"))
    stopped = journaled("Отключение средства видеозаписи", after=start)
    steps.append(Step("stop", _("stop recording"), rec_to, "done" if stopped else "later",
                      _("journal entry {n}").format(n=stopped["number"]) if stopped else ""))
    archived = [a for a in facts.archives if a.get("exam") == exam.id and not a.get("fragment")]
    title = (_("archive corridors, entrance and offline rooms: {rooms}").format(rooms=", ".join(facts.offline_rooms))
             if facts.offline_rooms else _("archive corridors and entrance"))
    steps.append(Step("archive", title, rec_to,
                      "done" if archived else "later",
                      (archived[-1]["dir"] + (", " + _("verified") if archived[-1].get("verified") else "")) if archived
                      else ""))
    if facts.region or facts.pushes:
        sent = [p for p in facts.pushes if datetime.fromisoformat(p["at"]) >= end]
        steps.append(Step("region", _("journal to the regional centre (journal push)"), end + PUSH_AFTER,
                          "done" if sent else "later",
                          _("records: {n}, at {hhmm}").format(
                              n=sent[-1]["held"], hhmm=datetime.fromisoformat(sent[-1]["at"]).astimezone(tz).strftime("%H:%M"))
                          if sent else ""))
    steps.append(Step("portal", _("upload to the federal portal (within {n} days)").format(n=PORTAL_DAYS), deadline,
                      "missed" if now > deadline and not archived else "later", _("by hand, from the archive folder")))
    # the first step not done (and not merely later in the day's order) is next
    pending = [s for s in steps if s.state in ("later", "next")]
    for s in steps:
        if s.state == "next":
            s.state = "later"
    if pending:
        pending[0].state = "next"
    return steps


def choose_exam(exams, now_local: datetime):
    """Today's exam not yet over; else the next one; else the last one."""
    naive = now_local.replace(tzinfo=None)
    ordered = sorted(exams, key=lambda e: e.start)
    for exam in ordered:
        if exam.start.date() == naive.date() and naive < exam.start + exam.duration + timedelta(hours=6):
            return exam
    for exam in ordered:
        if exam.start > naive:
            return exam
    return ordered[-1] if ordered else None
