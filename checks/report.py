"""Check results as text (pre-commit style status lines), JSON (the contract's shape) and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from checks.model import Result, Status, overall
from ppe_tech.messages import N_, _, seconds_text

WORD = {Status.PASS: N_("Passed"), Status.WARN: N_("Warning"), Status.FAIL: N_("Failed"), Status.SKIP: N_("Skipped"),
        Status.ERROR: N_("Error")}
COLOUR = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.SKIP: "bright_black",
          Status.ERROR: "magenta"}
RUSSIAN = {Status.PASS: "норма", Status.WARN: "предупреждение", Status.FAIL: "не пройдена", Status.SKIP: "пропущена",
           Status.ERROR: "ошибка проверки"}


def status_word(status: str | Status) -> str:
    """A verdict as people read it, in the chosen language: "warn" -> «предупреждение» (JSON keeps "warn")."""
    try:
        return _(WORD[Status(status)]).lower()
    except ValueError:
        return str(status)


def text_lines(results: list[Result], width: int = 79, style=None, verbose: bool = False) -> list[str]:
    """`Title.................Passed  0.12s` then the message (and details with `verbose`) indented.

    `style(text, status)` may colour the verdict (click.style on a terminal).
    """
    lines = []
    for r in results:
        word = _(WORD[r.status])
        seconds = seconds_text(r.duration_ms / 1000, "5.2f")
        dots = max(3, width - len(r.title) - len(word) - len(seconds) - 2)
        verdict = style(word, r.status) if style else word
        lines.append(f"{r.title}{'.' * dots}{verdict}  {seconds}")
        if r.status != Status.PASS or verbose:
            lines.append(f"- {r.id}: {r.message}")
            if verbose or r.status in (Status.FAIL, Status.ERROR):
                lines += [f"    {d}" for d in r.details[:20]]
                if len(r.details) > 20:
                    lines.append(f"    … {len(r.details) - 20} more")
    counts = {s: sum(1 for r in results if r.status == s) for s in Status}
    summary = ", ".join(f"{_(WORD[s]).lower()}: {n}" for s, n in counts.items() if n)
    lines.append(f"{_(WORD[overall(results)]).upper()}: {summary}")
    return lines


def as_json(results: list[Result], meta: dict) -> dict:
    return {"status": overall(results).value, "checks": [r.as_json() for r in results], **meta}


def junit(results: list[Result], name: str, timestamp: str, hostname: str) -> bytes:
    """JUnit XML as Jenkins, GitLab and pytest read it: one testcase per check; fail → <failure>,
    error → <error>, skip → <skipped>, warnings pass with a system-out note."""
    suite = ET.Element("testsuite", name=name, tests=str(len(results)),
                       failures=str(sum(r.status == Status.FAIL for r in results)),
                       errors=str(sum(r.status == Status.ERROR for r in results)),
                       skipped=str(sum(r.status == Status.SKIP for r in results)),
                       time=f"{max((r.duration_ms for r in results), default=0) / 1000:.3f}",
                       timestamp=timestamp, hostname=hostname)
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"ppe-tech.{r.id.split('.')[0]}", name=r.id,
                             time=f"{r.duration_ms / 1000:.3f}")
        body = "\n".join([r.message, *r.details])
        if r.status == Status.FAIL:
            ET.SubElement(case, "failure", message=r.message, type="fail").text = body
        elif r.status == Status.ERROR:
            ET.SubElement(case, "error", message=r.message, type="error").text = body
        elif r.status == Status.SKIP:
            ET.SubElement(case, "skipped", message=r.message)
        elif r.status == Status.WARN:
            ET.SubElement(case, "system-out").text = f"WARNING: {body}"
        else:
            ET.SubElement(case, "system-out").text = body
    suites = ET.Element("testsuites", name=name, tests=suite.get("tests", "0"), failures=suite.get("failures", "0"),
                        errors=suite.get("errors", "0"), skipped=suite.get("skipped", "0"), time=suite.get("time", "0"))
    suites.append(suite)
    ET.indent(suites)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="utf-8") + b"\n"
