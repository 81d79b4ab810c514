"""Reference documentation generated from the code: every command and every config key.

`python -m ppe_tech.docs` rewrites the generated blocks of README.md (between
`<!-- BEGIN name -->` and `<!-- END name -->`); a test fails when they are stale, so the
docs always list every command with its help and every key with its default.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import typing
from datetime import timedelta
from pathlib import Path

import click

from ppe_tech import config as cfg
from ppe_tech.timeutil import format_duration, parse_duration

SECTIONS = [(cfg.PpeSection, "[ppe]"), (cfg.Camera, "[[cameras]]"), (cfg.RecordingSection, "[recording]"),
            (cfg.HealthSection, "[health]"), (cfg.OnvifSection, "[onvif]"), (cfg.Exam, "[[exams]]"),
            (cfg.ChecksSection, "[checks]"),
            (cfg.Minimums, "[checks.minimums]"), (cfg.RequiredSoftware, "[[checks.required]]"), (cfg.AntivirusSection, "[antivirus]"),
            (cfg.JournalSection, "[journal]"), (cfg.RegionSection, "[region]")]


def _type_name(hint) -> str:
    if typing.get_origin(hint) is list:
        return "list of " + _type_name(typing.get_args(hint)[0]) + "s"
    return {str: "text", int: "integer", float: "number", bool: "true/false", timedelta: "duration",
            cfg.ByteSize: "size", cfg.LocalDateTime: "local date-time"}.get(hint, getattr(hint, "__name__", str(hint)))


def _default(f: dataclasses.Field) -> str:
    if f.metadata.get("required"):
        return "required"
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return ""
    if value is None:
        return "the profile's"
    if isinstance(value, timedelta):  # as `init` writes it when its example is the default ("60s", not "1m")
        example = (f.metadata or {}).get("example")
        try:
            same = isinstance(example, str) and parse_duration(example) == value
        except ValueError:
            same = False
        return f"`{example if same else format_duration(value)}`"
    if isinstance(value, cfg.ByteSize):
        return f"`{value // 2**30}GiB`" if value % 2**30 == 0 else f"`{value // 2**20}MiB`"
    if value in ("", []):
        return "—"
    return f"`{cfg._toml_value(value)}`"


def config_reference() -> str:
    out = []
    for cls, header in SECTIONS:
        hints = typing.get_type_hints(cls)
        out += [f"#### `{header}`", "", (cls.__doc__ or "").strip(), "", "| key | type | default | meaning |",
                "| --- | --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            inner = typing.get_args(hint)[0] if typing.get_origin(hint) is list else hint
            if dataclasses.is_dataclass(inner):
                continue
            doc = f.metadata.get("doc", "").replace("|", "\\|")
            out.append(f"| `{f.name}` | {_type_name(hint)} | {_default(f)} | {doc} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def walk(group: click.Group, ctx: click.Context, prefix: str = "ppe-tech"):
    """(full command line, command) of every command, depth first, in order."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from walk(command, click.Context(command, parent=ctx, info_name=name), path)
        else:
            yield path, command


def commands_reference() -> str:
    from ppe_tech.cli import cli
    from ppe_tech.messages import language_scope

    ctx = click.Context(cli, info_name="ppe-tech")
    out = ["| command | what it does |", "| --- | --- |"]
    with language_scope("en"):  # the README is English whatever the machine's locale
        for path, command in walk(cli, ctx):
            summary = command.get_short_help_str(limit=200).replace("|", "\\|")
            out.append(f"| `{path}` | {summary} |")
    return "\n".join(out) + "\n"


BLOCKS = {"commands": commands_reference, "config": config_reference}


def render_readme(text: str) -> str:
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- BEGIN {name} --> block")
        text = pattern.sub(lambda m: m.group(1) + make() + m.group(2), text)
    return text


def main() -> int:
    """`python -m ppe_tech.docs [README.md]`, from the checkout: the installed package has no README."""
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    if not readme.is_file():
        print(f"{readme}: no such file; run this in the checkout, or name the README", file=sys.stderr)
        return 2
    old = readme.read_text(encoding="utf-8")
    new = render_readme(old)
    if new != old:
        readme.write_text(new, encoding="utf-8")
        print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
