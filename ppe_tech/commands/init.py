"""`ppe-tech init`: write a commented configuration file."""

from __future__ import annotations

from pathlib import Path

import click

from ppe_tech.app import App, write_output
from ppe_tech.clicktr import TrCommand
from ppe_tech.config import parse_config, render_init
from ppe_tech.errors import BadInput
from ppe_tech.messages import _
from ppe_tech.options import OUTPUT_FILE


@click.command(cls=TrCommand)
@click.option("--path", "target", type=OUTPUT_FILE,
              help=_("Where to write it [default: --config, else ./ppe-tech.toml]."))
@click.option("--region", default="", help=_("Код субъекта РФ, 2 digits."))
@click.option("--region-name", default="", help=_("The region's name as printed."))
@click.option("--code", default="", help=_("Код ППЭ, 4 digits."))
@click.option("--name", default="", help=_("Наименование ППЭ."))
@click.option("--address", default="", help=_("Адрес ППЭ."))
@click.option("--timezone", default="Europe/Moscow", show_default=True, help=_("The exam point's time zone."))
@click.option("--force", is_flag=True, help=_("Overwrite an existing file."))
@click.pass_obj
def init(app: App, target: Path | None, region: str, region_name: str, code: str, name: str, address: str,
         timezone: str, force: bool) -> int:
    """Write a commented ppe-tech.toml to fill in.

    \b
    Example:
      ppe-tech init --region 77 --code 0123 --name "ГБОУ Школа № 1" \\
                    --address "г. Москва, ул. Примерная, д. 1"
    """
    path = target or (app.config_path if app.config_explicit else Path("ppe-tech.toml"))
    if path.exists() and not force:
        raise BadInput(_("{path} exists; use --force to overwrite it").format(path=path))
    text = render_init({"region": region, "region_name": region_name, "code": code, "name": name,
                        "address": address, "timezone": timezone})
    parse_config(text, str(path))  # what init writes must load: bad --region/--code fail here
    write_output(path, text.encode("utf-8"))
    click.echo(_("Wrote {path}. Fill in [ppe], add [[cameras]] and [[exams]], then run `ppe-tech keys create`.").format(path=path))
    return 0
