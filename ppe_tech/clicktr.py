"""Click commands whose help is translated when shown, not when imported.

Help texts (docstrings, option help) are written in English in the code and looked up
in the catalogue each time `--help` renders, so `--lang ru` or `LANG=ru_RU.UTF-8` gives
Russian help whatever was imported first.
"""

from __future__ import annotations

import contextlib

import click

from ppe_tech.messages import _


@contextlib.contextmanager
def _translated(command: click.Command, ctx: click.Context | None):
    saved = [(command, "help", command.help), (command, "short_help", command.short_help)]
    params = command.get_params(ctx) if ctx is not None else command.params
    saved += [(p, "help", getattr(p, "help", None)) for p in params if isinstance(p, click.Option)]
    try:
        for obj, attr, value in saved:
            if value:
                setattr(obj, attr, _(value))
        yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)


class _Translating:
    """Mixed into a click command: its help and its options' help translated as they render."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _translated(self, ctx):  # type: ignore[arg-type]
            super().format_help(ctx, formatter)  # type: ignore[misc]

    def get_short_help_str(self, limit: int = 45) -> str:
        with _translated(self, None):  # type: ignore[arg-type]
            return super().get_short_help_str(limit)  # type: ignore[misc]


class TrCommand(_Translating, click.Command):
    pass


class TrGroup(_Translating, click.Group):
    command_class = TrCommand
    group_class = type  # subgroups are TrGroups too
