"""The region's list of programs (КЕГЭ): its schema, and the check that every one is there.

A list is a TOML file (`[[programs]]` with name, kind, version and how to find it on Linux
and on Windows), published by the region; the example shipped beside the `kege` profile
shows the format. Each program is looked for the way `[[checks.required]]` is
(`software.find_one`): a command that prints its version, a path, or a registry entry.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from checks import software
from checks.model import Commands, M, Outcome, Plural, failed, passed, skipped, warned
from ppe_tech.config import ConfigError, RequiredSoftware, option, parse_as, version_spec
from ppe_tech.messages import _


@dataclass(frozen=True)
class Finder:
    """How to find a program on one system: exactly one of command, path, registry."""
    command: list[str] = option("a command that prints its version", example=["python3", "--version"], factory=list)
    path: str = option("a file that must exist", example="", default="")
    registry: str = option("(Windows) the DisplayName of an uninstall registry entry", example="", default="")


@dataclass(frozen=True)
class Program:
    """One program of the list."""
    name: str = option("what the protocol calls it", example="Python", required=True)
    kind: str = option("the kind the rules name (editor, spreadsheet, programming environment …)",
                       example="среда программирования на языке Python", default="")
    version: str = option("least version, e.g. '>=3.9'", check=version_spec, example=">=3.9", default="")
    linux: Finder | None = option("how to find it on Linux", default=None)
    windows: Finder | None = option("how to find it on Windows", default=None)


@dataclass(frozen=True)
class SoftwareList:
    """A region's list of programs."""
    region: str = option("whose list it is", example="77", default="")
    published: str = option("where and when the region published it", example="", default="")
    programs: list[Program] = option("the programs", factory=list)


def load(path: Path) -> SoftwareList:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ConfigError([_("{path}: the list of programs cannot be read").format(path=path)]) from None
    listed, validator = parse_as(SoftwareList, text, str(path))
    for index, program in enumerate(listed.programs):
        for system in ("linux", "windows"):
            finder = getattr(program, system)
            if finder is not None and sum([bool(finder.command), bool(finder.path), bool(finder.registry)]) != 1:
                validator.problem(("programs", index, system), _("needs exactly one of command, path, registry"))
    if validator.problems:
        raise ConfigError([t for _line, t in sorted(validator.problems, key=lambda p: p[0])])
    return listed


def check(ctx, cmds: Commands, platform: str = sys.platform, registry=None) -> Outcome:
    """Every program of the list found, at its least version."""
    path = ctx.software_list
    if path is None:
        return skipped(M("no list of programs (checks.software_list or the profile's software_list)"))
    try:
        listed = load(path)
    except ConfigError as exc:
        return failed(M("the list of programs is not valid: {problem}", problem=exc.problems[0]))
    system = "windows" if platform == "win32" else "linux"
    lines, missing, unlisted = [], [], []
    for program in listed.programs:
        finder = getattr(program, system)
        if finder is None:
            unlisted.append(program.name)
            continue
        item = RequiredSoftware(name=program.name, command=list(finder.command), path=finder.path,
                                registry=finder.registry, version=program.version)
        status, line = software.find_one(item, cmds, registry)
        lines.append(M("{kind}: {line}", kind=program.kind, line=line) if program.kind else line)
        if status != "pass":
            missing.append(program.name)
    if unlisted:
        lines.append(M("not for this system: {names}", names=", ".join(unlisted)))
    if not lines or len(unlisted) == len(listed.programs):
        return skipped(M("the list names no program for this system"))
    found = len(listed.programs) - len(unlisted) - len(missing)
    data = {"list": str(path), "missing": missing, "found": found}
    if missing:
        return failed(M("missing or below the least version: {names}", names=", ".join(missing)), lines, **data)
    if unlisted:
        return warned(Plural("{n} program of the list found; {m} not listed for this system",
                             "{n} programs of the list found; {m} not listed for this system", found, n=found,
                             m=len(unlisted)),
                      lines, **data)
    return passed(Plural("the {n} program of the list found", "all {n} programs of the list found", found, n=found), lines, **data)
