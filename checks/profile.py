"""Check profiles: which checks a full run makes, which of them must not be skipped, and
the station's minimums, as data.

A profile is a TOML file: the built-in ones ship as package data in `checks/profiles/`
(`station`, `kege`), and a region may give its own by path (`[checks] profile =
"/etc/ppe-tech/region-kege.toml"`, `check run --profile FILE`) without code. A profile
may name a list of programs (`software_list`, a path relative to the profile's folder),
read by the `software.list` check.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ppe_tech.config import ConfigError, Minimums, option, parse_as
from ppe_tech.errors import BadInput
from ppe_tech.messages import _

BUILTIN = ("station", "kege")
FILE_TYPES = ("ods", "odt", "txt", "xlsx", "docx", "csv")


def _file_type(value: str) -> str | None:
    return None if value.lstrip(".").lower() in FILE_TYPES else _("one of {types}").format(types=", ".join(FILE_TYPES))


@dataclass(frozen=True)
class Profile:
    """A check profile: the checks of a full run and the station's minimums."""
    title: str = option("what the protocol calls the station", example="Рабочая станция ППЭ", required=True)
    checks: list[str] = option("the checks of a full run, in order (ids as `ppe-tech check list` shows)",
                               example=["system.resources"], required=True)
    required: list[str] = option("checks that must pass: a skip of one of them means the station is not ready",
                                 example=[], factory=list)
    software_list: str = option("the region's list of programs (.toml), relative to this file", example="",
                                default="")
    file_types: list[str] = option("file types an installed program must open (files.open)", check=_file_type,
                                   example=["ods", "odt", "txt"], factory=list)
    minimums: Minimums = option("the station's minimums («Приложение 2»)", factory=Minimums)
    name: str = dataclasses.field(default="", metadata={"doc": "", "check": None, "example": None,
                                                        "required": False})
    source: Path | None = dataclasses.field(default=None, compare=False)


def _builtin_text(name: str) -> tuple[str, Path]:
    item = resources.files("checks").joinpath("profiles", f"{name}.toml")
    return item.read_text(encoding="utf-8"), Path(str(item))


def load(ref: str) -> Profile:
    """A built-in profile by name, or a region's profile by path; BadInput naming the problem."""
    from checks.builtin import BY_ID

    if ref in BUILTIN:
        text, path = _builtin_text(ref)
        name = ref
    else:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise BadInput(_("profile {ref!r}: neither a built-in profile ({names}) nor a file").format(
                ref=ref, names=", ".join(BUILTIN)))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise BadInput(_("profile {path}: cannot be read as UTF-8 text").format(path=path)) from None
        name = path.stem
    profile, validator = parse_as(Profile, text, str(path))
    for field_name in ("checks", "required"):
        for index, check_id in enumerate(getattr(profile, field_name)):
            if check_id not in BY_ID:
                validator.problem((field_name, index), _("unknown check id {id!r} (valid: {valid})").format(
                    id=check_id, valid=", ".join(BY_ID)))
            elif field_name == "required" and check_id not in profile.checks:
                validator.problem((field_name, index), _("{id!r} is required but not among the profile's checks").format(
                    id=check_id))
    if validator.problems:
        raise ConfigError([t for _line, t in sorted(validator.problems, key=lambda p: p[0])])
    return dataclasses.replace(profile, name=name, source=path)


def minimums(profile: Profile, override: Minimums) -> Minimums:
    """The profile's minimums with every key the config sets instead."""
    given = {f.name: getattr(override, f.name) for f in dataclasses.fields(Minimums)
             if getattr(override, f.name) is not None}
    return dataclasses.replace(profile.minimums, **given)


def software_list_path(profile: Profile, configured: str) -> Path | None:
    """The program list: the config's, else the profile's (relative to the profile's folder)."""
    if configured:
        return Path(configured).expanduser()
    if not profile.software_list:
        return None
    listed = Path(profile.software_list)
    if listed.is_absolute() or profile.source is None:
        return listed
    return profile.source.parent / listed
