"""Run checks in parallel, each within its own timeout; the run ends on time whatever hangs.

Each check runs in a daemon thread. The runner waits for each until its deadline; a
check still running then ends as `error` ("timed out") and its thread is abandoned
(commands it started are killed by `Commands` at the same deadline), so one hung check
never holds up the protocol.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable

from checks.model import Check, CheckTimeout, Commands, Foreign, M, N_, Outcome, Result, Status, errored, render


def run_checks(checks: list[Check], context: Any, default_timeout: float,
               commands: Callable[[float], Commands] = lambda deadline: Commands(deadline),
               on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Results in the order of `checks`; `on_result` is called as each one ends."""
    started = time.monotonic()
    slots: list[dict] = []
    for check in checks:
        limit = check.timeout(context) if check.timeout else default_timeout
        slot = {"check": check, "limit": limit, "deadline": started + limit, "done": threading.Event(),
                "outcome": None, "ms": 0}
        slots.append(slot)

        def work(slot: dict = slot) -> None:
            begin = time.monotonic()
            try:
                outcome = slot["check"].func(context, commands(slot["deadline"]))
            except CheckTimeout as exc:
                outcome = errored(M("timed out after {s:g} s (waiting for {what})", s=slot["limit"],
                                    what=Foreign(exc, N_("an external program"))))
            except FileNotFoundError as exc:
                outcome = errored(M("a program the check needs is missing: {name}",
                                    name=Foreign(exc.filename or exc, N_("see the JSON report"))))
            except Exception as exc:  # a broken check is an error verdict, not a crashed run
                last = traceback.extract_tb(exc.__traceback__)[-1]
                where = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
                outcome = errored(M("the check broke: {error} ({where})",
                                    error=Foreign(f"{type(exc).__name__}: {exc}", N_("an internal error")),
                                    where=Foreign(where, N_("see the JSON report"))))
            slot["ms"] = int((time.monotonic() - begin) * 1000)
            slot["outcome"] = outcome
            slot["done"].set()
        threading.Thread(target=work, name=f"check {check.id}", daemon=True).start()
    pending = list(slots)
    while pending:  # report in completion order to on_result, return in the given order
        now = time.monotonic()
        for slot in list(pending):
            if slot["done"].is_set() or now >= slot["deadline"]:
                pending.remove(slot)
                slot["result"] = _result(slot)
                if on_result:
                    on_result(slot["result"])
        if pending:
            nearest = min(s["deadline"] for s in pending)
            waiting = next((s for s in pending if not s["done"].is_set()), pending[0])
            waiting["done"].wait(max(0.0, min(0.05, nearest - time.monotonic())))
    return [s["result"] for s in slots]


def _result(slot: dict) -> Result:
    check: Check = slot["check"]
    outcome: Outcome | None = slot["outcome"] if slot["done"].is_set() else None
    if outcome is None:
        outcome = errored(M("timed out after {s:g} s", s=slot["limit"]))
        ms = int(slot["limit"] * 1000)
    else:
        ms = slot["ms"]
    if not isinstance(outcome.status, Status):
        outcome = errored(M("bad verdict {status!r}", status=outcome.status))
    from ppe_tech.messages import _, document_translator, language

    russian = document_translator()
    title = check.title_ru if language() == "ru" else check.title
    return Result(check.id, title, outcome.status, render(outcome.message, _), ms,
                  [render(d, _) for d in outcome.details], outcome.data, render(outcome.message, russian),
                  [render(d, russian) for d in outcome.details])
