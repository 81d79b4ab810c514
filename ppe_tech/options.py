"""Options shared by several commands, defined once (pip-tools style)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import click

from ppe_tech.messages import _
from ppe_tech.timeutil import parse_date, parse_hhmm

json_option = click.option("--json", "as_json", is_flag=True, help=_("Print the result as one JSON document on stdout."))

passphrase_file_option = click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
    help=_("Read the key's passphrase from this file (unattended use); else PPE_TECH_PASSPHRASE, else a prompt."))

key_option = click.option("--key", "key_ref", required=True, metavar="KEYID",
                          help=_("Your key id, or its first digits (see `ppe-tech keys list`)."))


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str | None], Any]:
    """A click callback that parses the value and turns ValueError into a usage error."""
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return callback


def date_option(name: str, help_text: str):
    return click.option(name, callback=_parsed(parse_date), metavar="YYYY-MM-DD", help=help_text)


def time_option(name: str, help_text: str):
    return click.option(name, callback=_parsed(parse_hhmm), metavar="HH:MM", help=help_text)


class OutputFile(click.ParamType):
    """A file a command writes: refused at once (exit 2) when it is a link, a device, a
    folder, or in a folder that does not exist, before any work is done or journaled."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from ppe_tech.errors import BadInput
        from ppe_tech.outputs import check_output

        try:
            return check_output(Path(value))
        except BadInput as exc:
            self.fail(exc.message, param, ctx)


OUTPUT_FILE = OutputFile()
