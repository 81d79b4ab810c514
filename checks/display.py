"""Monitors: how many are connected and their resolution, where the system can tell.

Windows: GetSystemMetrics (SM_CMONITORS, SM_CXSCREEN, SM_CYSCREEN). Linux: `xrandr --query`
in the graphical session (DISPLAY). Without a graphical session or without xrandr the
check is skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import re
import sys

from checks.model import N_, Commands, Foreign, Join, M, Outcome, Plural, failed, passed, skipped

_CONNECTED = re.compile(r"^(\S+) connected(?: primary)? (\d+)x(\d+)\+\d+\+\d+")


def parse_xrandr(output: str) -> list[tuple[str, int, int]]:
    """(output name, width, height) of every connected monitor that shows a picture."""
    return [(m.group(1), int(m.group(2)), int(m.group(3)))
            for m in (_CONNECTED.match(line) for line in output.splitlines()) if m]


def windows_monitors() -> list[tuple[str, int, int]]:
    import ctypes

    metrics = ctypes.windll.user32.GetSystemMetrics  # type: ignore[attr-defined]
    count, width, height = metrics(80), metrics(0), metrics(1)
    return [("primary", width, height)] + [(f"monitor {i + 2}", 0, 0) for i in range(max(0, count - 1))]


def monitors(cmds: Commands, platform: str = sys.platform, env=os.environ) -> tuple[list | None, object]:
    """(monitors, None), or (None, why the system cannot tell)."""
    if platform == "win32":
        try:
            return windows_monitors(), None
        except (OSError, AttributeError):
            return None, M("the system did not say how many monitors are connected")
    if not env.get("DISPLAY"):
        return None, M("no graphical session: the monitors cannot be counted from here")
    try:
        code, out, _err = cmds.run(["xrandr", "--query"], timeout=5)
    except FileNotFoundError:
        return None, M("the monitors cannot be counted: {tool} is not installed",
                       tool=Foreign("xrandr", N_("the screen settings program")))
    if code != 0:
        return None, M("the graphical session did not answer about its monitors")
    return parse_xrandr(out), None


def screens(ctx, cmds: Commands, found: tuple[list | None, object] | None = None) -> Outcome:
    need = ctx.minimums
    single = bool(need and need.single_monitor)
    least = tuple(int(x) for x in need.screen.split("x")) if need and need.screen else None
    if not single and least is None:
        return skipped(M("the profile sets no screen minimums"))
    shown, why = found if found is not None else monitors(cmds)
    if shown is None:
        return skipped(why)
    if not shown:
        return failed(M("no monitor shows a picture"))
    lines = [M("{name}: {w}x{h}", name=name, w=w, h=h) if w else M("{name}: resolution unknown", name=name)
             for name, w, h in shown]
    problems = []
    if single and len(shown) > 1:
        problems.append(M("{n} monitors connected, one is allowed", n=len(shown)))
    if least is not None:
        small = [name for name, w, h in shown if w and (w < least[0] or h < least[1])]
        if small:
            problems.append(M("resolution below {w}x{h}: {names}", w=least[0], h=least[1], names=", ".join(small)))
    data = {"monitors": [{"name": n, "width": w, "height": h} for n, w, h in shown]}
    if problems:
        return failed(Join(problems), lines, **data)
    return passed(Plural("{n} monitor, resolution as required", "{n} monitors, resolution as required", len(shown),
                         n=len(shown)), lines, **data)
