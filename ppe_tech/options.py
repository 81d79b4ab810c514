"""Options shared by several commands, defined once (pip-tools style)."""

from __future__ import annotations

from pathlib import Path

import click

from ppe_tech.messages import _

json_option = click.option("--json", "as_json", is_flag=True, help=_("Print the result as one JSON document on stdout."))

passphrase_file_option = click.option(
    "--passphrase-file", type=click.Path(dir_okay=False, path_type=Path),
    help=_("Read the key's passphrase from this file (unattended use); else PPE_TECH_PASSPHRASE, else a prompt."))

key_option = click.option("--key", "key_ref", required=True, metavar="KEYID",
                          help=_("Your key id, or its first digits (see `ppe-tech keys list`)."))


def _date(ctx: click.Context, param: click.Parameter, value: str | None):
    from ppe_tech.timeutil import parse_date
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _hhmm(ctx: click.Context, param: click.Parameter, value: str | None):
    from ppe_tech.timeutil import parse_hhmm
    if value is None:
        return None
    try:
        return parse_hhmm(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def date_option(name: str, help_text: str):
    return click.option(name, callback=_date, metavar="YYYY-MM-DD", help=help_text)


def time_option(name: str, help_text: str):
    return click.option(name, callback=_hhmm, metavar="HH:MM", help=help_text)
