"""`exam plan` and `exam status`: the day's timeline and one screen of status."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ppe_tech.day import Facts, choose_exam, timeline

MSK = ZoneInfo("Europe/Moscow")


def Exam(exam_id: str, start: datetime, **more):  # noqa: N802 - the config's Exam with the defaults
    from ppe_tech.config import Exam as ConfigExam

    return ConfigExam(id=exam_id, subject="Математика", start=start, **more)


def states(steps) -> dict[str, str]:
    return {s.key: s.state for s in steps}


def test_timeline_moves_through_the_day():
    exam = Exam("math", datetime(2026, 6, 1, 10, 0))
    at = lambda h, m=0: datetime(2026, 6, 1, h, m, tzinfo=MSK)  # noqa: E731
    the_day_before = Facts(checks=[{"started": datetime(2026, 5, 31, 10, 5, tzinfo=MSK).isoformat(), "status": "pass",
                                    "exam": "math", "full": True, "ready": True}])
    steps = timeline(exam, MSK, at(7, 30), the_day_before)
    assert states(steps)["readiness"] == "done" and states(steps)["precheck"] == "next"
    assert states(steps)["record"] == "later"
    # recording from 1 h before the start to 1 h after the end; the archive once it stopped
    assert [s.at.strftime("%d.%m %H:%M") for s in steps] == ["31.05 10:00", "01.06 08:00", "01.06 09:00",
                                                             "01.06 10:00", "01.06 13:55", "01.06 14:55",
                                                             "01.06 14:55", "04.06 23:59"]
    wider = timeline(Exam("math", datetime(2026, 6, 1, 10, 0), record_before=timedelta(minutes=30),
                          record_after=timedelta(0)), MSK, at(7, 30), Facts())
    assert {s.key: s.at.strftime("%H:%M") for s in wider}["record"] == "09:30"
    assert {s.key: s.at.strftime("%H:%M") for s in wider}["stop"] == "13:55"
    facts = Facts(checks=[*the_day_before.checks,
                          {"started": at(8, 1).isoformat(), "status": "pass", "exam": "math", "full": True, "ready": True}],
                  journal=[{"number": 7, "date": "2026-06-01", "start": "08:20", "action": "Начало записи"}],
                  recording=True)
    steps = timeline(exam, MSK, at(11), facts)
    assert states(steps) == {"readiness": "done", "precheck": "done", "record": "done", "start": "done", "end": "next",
                             "stop": "later", "archive": "later", "portal": "later"}
    assert "journal entry 7" in steps[2].note
    facts.journal.append({"number": 9, "date": "2026-06-01", "start": "14:10", "action": "Отключение средства видеозаписи"})
    facts.archives.append({"exam": "math", "dir": "/media/usb/77_0123_2026-06-01_math", "verified": True})
    steps = timeline(exam, MSK, at(15), facts)
    assert states(steps)["stop"] == "done" and states(steps)["archive"] == "done" and states(steps)["portal"] == "next"
    # with a regional database: the journal goes there after the exam; a push before the end does not count
    facts.region = True
    facts.pushes.append({"at": at(13).isoformat(), "held": 20})
    steps = timeline(exam, MSK, at(15), facts)
    assert states(steps)["region"] == "next" and [s.key for s in steps][-2:] == ["region", "portal"]
    facts.pushes.append({"at": at(14, 30).isoformat(), "held": 31})
    steps = timeline(exam, MSK, at(15), facts)
    assert states(steps)["region"] == "done" and steps[-2].note == "records: 31, at 14:30"
    # no check at all and the exam has begun: missed, never "next"
    steps = timeline(exam, MSK, at(10, 30), Facts())
    assert states(steps)["precheck"] == "missed" and states(steps)["record"] == "missed"
    assert states(steps)["readiness"] == "missed"
    # a failed check stays the thing to do
    failed = Facts(checks=[*the_day_before.checks,
                           {"started": at(8, 2).isoformat(), "status": "fail", "exam": "math", "full": True,
                            "ready": False}])
    steps = timeline(exam, MSK, at(8, 10), failed)
    assert states(steps)["precheck"] == "next" and "fix" in steps[1].note
    # a partial run (--only) is no pre-check
    partial = Facts(checks=[*the_day_before.checks,
                            {"started": at(8, 2).isoformat(), "status": "pass", "exam": "math", "full": False}])
    assert states(timeline(exam, MSK, at(8, 10), partial))["precheck"] == "next"


def test_the_day_before_in_the_timeline():
    exam = Exam("math", datetime(2026, 6, 1, 10, 0))
    day_before = lambda h, m=0: datetime(2026, 5, 31, h, m, tzinfo=MSK)  # noqa: E731
    steps = timeline(exam, MSK, day_before(9, 0), Facts())
    assert steps[0].key == "readiness" and steps[0].state == "next" and steps[1].key == "precheck"
    assert steps[0].title == "technical preparation: full check of the station"
    # past its time and still not made: attention (!) while it can still be done, missed once the day has come
    steps = timeline(exam, MSK, day_before(18, 0), Facts())
    assert states(steps)["readiness"] == "late" and "overdue" in steps[0].note and states(steps)["precheck"] == "next"
    steps = timeline(exam, MSK, datetime(2026, 6, 1, 8, 30, tzinfo=MSK), Facts())
    assert states(steps)["readiness"] == "missed"
    # a full run that found the station not ready: to be fixed and run again
    bad = Facts(checks=[{"started": day_before(10, 5).isoformat(), "status": "fail", "exam": "math", "full": True,
                         "ready": False}])
    steps = timeline(exam, MSK, day_before(10, 30), bad)
    assert states(steps)["readiness"] == "late" and "not ready" in steps[0].note


def test_choose_exam_today_else_next():
    a, b = Exam("a", datetime(2026, 6, 1, 10, 0)), Exam("b", datetime(2026, 6, 4, 10, 0))
    assert choose_exam([b, a], datetime(2026, 6, 1, 7, 0, tzinfo=MSK)).id == "a"
    assert choose_exam([b, a], datetime(2026, 6, 2, 7, 0, tzinfo=MSK)).id == "b"
    assert choose_exam([b, a], datetime(2026, 7, 1, 7, 0, tzinfo=MSK)).id == "b"
    assert choose_exam([], datetime(2026, 7, 1, 7, 0, tzinfo=MSK)) is None


def test_plan_and_status_commands(ppe, home, people):
    start = (datetime.now(MSK) + timedelta(hours=1)).replace(second=0, microsecond=0, tzinfo=None)
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
        f'[[exams]]\nid = "math"\nsubject = "Математика"\nstart = "{start:%Y-%m-%dT%H:%M}"\n', encoding="utf-8")
    r = ppe("exam", "plan", "--json")
    assert r.code == 1, r.err  # the exam is in an hour: the day-before check was missed
    assert [s["step"] for s in r.json["steps"]] == ["readiness", "precheck", "record", "start", "end", "stop", "archive",
                                                    "portal"]
    assert r.json["steps"][0]["state"] == "missed" and r.json["steps"][1]["state"] == "next"
    assert ppe("check", "run", "--only", "system.resources", "--exam", "math").code == 0
    r = ppe("exam", "plan", "--json")
    assert r.json["steps"][1]["state"] == "next"  # a partial run is no pre-check
    (home / "tiny.toml").write_text('title = "Станция"\nchecks = ["system.resources"]\nrequired = ["system.resources"]\n',
                                    encoding="utf-8")
    assert ppe("check", "run", "--profile", home / "tiny.toml", "--exam", "math").code == 0
    r = ppe("exam", "plan", "--json")
    assert r.json["steps"][1]["state"] == "done" and r.json["steps"][2]["state"] == "next"
    r = ppe("exam", "plan")
    assert "✓" in r.out and "→" in r.out and "pre-exam check" in r.out
    r = ppe("exam", "status", "--json")
    assert r.json["journal"]["ok"] is True and r.json["journal"]["entries"] == 2
    # system.resources warns on a loaded machine: either verdict lets the check count
    assert r.json["journal"]["unconfirmed"] == 2 and r.json["last_check"]["status"] in ("pass", "warn")
    assert r.json["recording"]["running"] is False and r.json["archive"] is None
    assert r.code == (0 if r.json["ok"] else 1)
    r = ppe("exam", "plan", "--exam", "nope")
    assert r.code == 2 and "unknown exam id" in r.err
