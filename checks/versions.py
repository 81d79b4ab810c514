"""Version numbers found in a program's output, and constraints such as '>=5.0,<8'."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+|\d+(?=\s|$))")
_CLAUSE = re.compile(r"^\s*(==|!=|>=|<=|>|<|~=)?\s*(\d+(?:\.\d+)*)\s*$")


def parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def find_version(output: str) -> str | None:
    """The first dotted number in a tool's version output ('ffmpeg version 5.1.6-0+deb12u1' → '5.1.6')."""
    for line in output.splitlines():
        match = _NUMBER.search(line)
        if match and "." in match.group(1):
            return match.group(1)
    match = _NUMBER.search(output)
    return match.group(1) if match else None


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return (a > b) - (a < b)


def satisfies(version: str, constraint: str) -> bool:
    """Whether `version` meets every comma-separated clause of `constraint` (empty: any)."""
    have = parse(version)
    for clause in filter(None, (c.strip() for c in constraint.split(","))):
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise ValueError(f"bad version constraint {clause!r}")
        op, want_text = match.group(1) or "==", match.group(2)
        want = parse(want_text)
        c = _cmp(have, want)
        ok = {"==": c == 0, "!=": c != 0, ">=": c >= 0, "<=": c <= 0, ">": c > 0, "<": c < 0}.get(op)
        if op == "~=":  # compatible release: >= want and the same prefix but the last part
            prefix = want[:-1] if len(want) > 1 else want
            ok = c >= 0 and have[:len(prefix)] == prefix
        if not ok:
            return False
    return True
