"""Printers (CUPS `lpstat`, the Windows spooler) and hosts reachable by TCP."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from checks.model import N_, Commands, Foreign, M, Outcome, Plural, describe_os_error, failed, passed, skipped, warned

# -- printers ---------------------------------------------------------------------------------

_LPSTAT = re.compile(r"^printer (?P<name>\S+) (?:is (?P<state>idle|printing)|now (?P<now>printing)|"
                     r"(?P<disabled>disabled))", re.I)
# lpstat in a Russian locale: «принтер X свободен.  включен с …» / «принтер X отключен с …»
_LPSTAT_RU = re.compile(r"^принтер (?P<name>\S+) (?:(?P<state>свободен|печатает)|(?P<disabled>отключен))", re.I)


def parse_lpstat(output: str) -> dict[str, str]:
    """{printer: 'idle' | 'printing' | 'disabled'} from `lpstat -p`."""
    printers = {}
    for line in output.splitlines():
        m = _LPSTAT.match(line.strip()) or _LPSTAT_RU.match(line.strip())
        if not m:
            continue
        if m.group("disabled"):
            state = "disabled"
        elif m.groupdict().get("now"):
            state = "printing"
        else:
            state = {"свободен": "idle", "печатает": "printing"}.get(m.group("state").lower(), m.group("state").lower())
        printers[m.group("name")] = state
    return printers


# Get-Printer's PrinterStatus: 0 Normal (idle), 1 Paused, 2 Error, 3 PendingDeletion, 4 PaperJam,
# 5 PaperOut, 6 ManualFeed, 7 PaperProblem, 8 Offline, 9 IOActive, 10 Busy, 11 Printing, ...
_WIN_STATUS = {0: "idle", 1: N_("paused"), 2: N_("error"), 3: N_("pending deletion"), 4: N_("paper jam"),
               5: N_("paper out"), 6: N_("manual feed"), 7: N_("paper problem"), 8: N_("offline"), 9: N_("printing"),
               10: N_("busy"), 11: "printing", 12: N_("output bin full"), 13: N_("not available"), 14: N_("waiting"),
               15: N_("processing"), 16: N_("initializing"), 17: N_("warming up"), 18: N_("toner low"),
               19: N_("no toner"), 20: N_("page punt"), 21: N_("user intervention"), 22: N_("out of memory"),
               23: N_("door open"), 24: N_("server unknown"), 25: N_("power save"), -1: N_("disabled")}
_KNOWN_STATES = set(_WIN_STATUS.values())


def _state(state: str):
    """A printer's state in words of the catalogue; an unknown one as the system said it."""
    return M(state) if state in _KNOWN_STATES else Foreign(state, N_("unknown state"))
_WIN_TEXT = {"normal": "idle", "printing": "printing", "paused": "paused", "offline": "offline", "error": "error"}


def parse_get_printer(output: str) -> dict[str, str]:
    """{printer: state} from `Get-Printer | Select Name,PrinterStatus | ConvertTo-Json`."""
    data = json.loads(output or "[]")
    if isinstance(data, dict):
        data = [data]
    printers = {}
    for item in data:
        status = item.get("PrinterStatus")
        state = _WIN_STATUS.get(status, f"status {status}") if isinstance(status, int) else \
            _WIN_TEXT.get(str(status).lower(), str(status).lower())
        printers[str(item.get("Name"))] = state
    return printers


def printer_states(cmds: Commands, platform: str = sys.platform) -> dict[str, str]:
    if platform == "win32":
        code, out, err = cmds.run(["powershell.exe", "-NoProfile", "-NonInteractive", "-Command",
                                   "Get-Printer | Select-Object Name,PrinterStatus | ConvertTo-Json"], timeout=30)
        if code != 0:
            raise OSError(err.strip() or "Get-Printer failed")
        return parse_get_printer(out)
    code, out, err = cmds.run(["lpstat", "-p"], timeout=15)
    if code != 0 and "no destinations" not in (err + out).lower():
        raise OSError((err.strip().splitlines() or ["lpstat -p failed (is CUPS running?)"])[-1])
    return parse_lpstat(out)


def printers(ctx, cmds: Commands, states=None) -> Outcome:
    wanted = ctx.config.checks.printers
    if not wanted:
        return skipped(M("no printers configured (checks.printers)"))
    try:
        have = states if states is not None else printer_states(cmds)
    except FileNotFoundError:
        return failed(M("no print system found ({tool} is missing)",
                        tool=Foreign("lpstat", N_("the print system's program"))))
    except OSError as exc:
        return failed(M("the print system did not answer: {error}", error=Foreign(exc, N_("see the JSON report"))))
    lines, bad, busy = [], [], []
    for name in wanted:
        state = have.get(name)
        if state is None:
            bad.append(name)
            lines.append(M("{name}: not installed (known: {known})", name=name, known=", ".join(sorted(have)) or "—"))
        elif state == "idle":
            lines.append(M("{name}: ready", name=name))
        elif state in ("printing", "busy", "processing", "warming up", "initializing", "power save"):
            busy.append(name)
            lines.append(M("{name}: {state}", name=name, state=_state(state)))
        else:
            bad.append(name)
            lines.append(M("{name}: {state}", name=name, state=_state(state)))
    if bad:
        return failed(M("not ready: {names}", names=", ".join(bad)), lines)
    if busy:
        return warned(M("busy: {names}", names=", ".join(busy)), lines)
    return passed(M("{n} ready: {names}", n=len(wanted), names=", ".join(wanted)), lines)


# -- hosts ------------------------------------------------------------------------------------

def split_host(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _sep, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":"))
    host, _sep, port = text.rpartition(":")
    return host, int(port)


def reach(target: str, timeout: float) -> tuple[str, bool, str]:
    host, port = split_host(target)
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return target, True, M("{target}: open ({ms:.0f} ms)", target=target, ms=(time.monotonic() - started) * 1000)
    except socket.timeout:
        return target, False, M("{target}: no answer within {s:g} s", target=target, s=timeout)
    except OSError as exc:
        return target, False, M("{target}: {error}", target=target, error=describe_os_error(exc))


def reach_all(targets: list[str], timeout: float, cmds: Commands) -> list[tuple[str, bool, object]]:
    """`reach` for every target at once, each within `timeout` and the check's deadline."""
    limit = max(0.2, min(timeout, cmds.remaining() - 0.2))
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        return list(pool.map(lambda t: reach(t, limit), targets))


def hosts(ctx, cmds: Commands) -> Outcome:
    targets = ctx.config.checks.hosts
    if not targets:
        return skipped(M("no hosts configured (checks.hosts)"))
    answers = reach_all(targets, ctx.config.checks.connect_timeout.total_seconds(), cmds)
    down = [t for t, ok, _line in answers if not ok]
    lines = [line for _t, _ok, line in answers]
    if down:
        return failed(M("unreachable: {names}", names=", ".join(down)), lines)
    return passed(M("{n} reachable", n=len(targets)), lines)


# -- no internet where there must be none ------------------------------------------------------

def isolated(ctx, cmds: Commands) -> Outcome:
    """Fails when any internet probe (host:port) accepts a TCP connection: the station is online.
    A refused connection, a timeout or a name that does not resolve is no answer."""
    targets = ctx.config.checks.internet_probes
    if not targets:
        return skipped(M("no internet probes configured (checks.internet_probes)"))
    answers = reach_all(targets, ctx.config.checks.probe_timeout.total_seconds(), cmds)
    answered = [t for t, ok, _line in answers if ok]
    lines = [line for _t, _ok, line in answers]
    if answered:
        return failed(M("the internet is reachable: {names} answered", names=", ".join(answered)), lines,
                      answered=answered)
    return passed(Plural("the {n} internet address does not answer", "none of {n} internet addresses answers",
                         len(targets), n=len(targets)), lines)
