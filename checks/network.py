"""Printers (CUPS `lpstat`, the Windows spooler) and hosts reachable by TCP."""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from checks.model import Commands, M, Outcome, failed, passed, skipped, warned

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
_WIN_STATUS = {0: "idle", 1: "paused", 2: "error", 3: "pending deletion", 4: "paper jam", 5: "paper out",
               6: "manual feed", 7: "paper problem", 8: "offline", 9: "printing", 10: "busy", 11: "printing",
               12: "output bin full", 13: "not available", 14: "waiting", 15: "processing", 16: "initializing",
               17: "warming up", 18: "toner low", 19: "no toner", 20: "page punt", 21: "user intervention",
               22: "out of memory", 23: "door open", 24: "server unknown", 25: "power save"}
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
        return failed(M("no print system found (lpstat is missing)"))
    except OSError as exc:
        return failed(M("the print system did not answer: {error}", error=str(exc)))
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
            lines.append(f"{name}: {state}")
        else:
            bad.append(name)
            lines.append(f"{name}: {state}")
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
        return target, False, f"{target}: {exc.strerror or exc}"


def hosts(ctx, cmds: Commands) -> Outcome:
    targets = ctx.config.checks.hosts
    if not targets:
        return skipped(M("no hosts configured (checks.hosts)"))
    timeout = max(0.2, min(ctx.config.checks.connect_timeout.total_seconds(), cmds.remaining() - 0.2))
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        answers = list(pool.map(lambda t: reach(t, timeout), targets))
    down = [t for t, ok, _line in answers if not ok]
    lines = [line for _t, _ok, line in answers]
    if down:
        return failed(M("unreachable: {names}", names=", ".join(down)), lines)
    return passed(M("{n} reachable", n=len(targets)), lines)
