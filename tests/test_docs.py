"""The docs list every command with its help, and every config key; the generated parts are current."""

from __future__ import annotations

import click

from ppe_tech import docs
from ppe_tech.cli import cli
from conftest import ROOT


def test_readme_reference_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert docs.render_readme(text) == text, "README.md is stale: run `.venv/bin/python -m ppe_tech.docs README.md` in the checkout"


def test_every_command_has_help_and_is_in_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ctx = click.Context(cli, info_name="ppe-tech")
    commands = list(docs.walk(cli, ctx))
    assert len(commands) > 30
    for path, command in commands:
        assert (command.help or "").strip(), f"{path} has no help text"
        assert command.get_short_help_str(200).strip()
        assert f"`{path}`" in readme, f"{path} is not in README.md"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"{path} {param.opts[0]} has no help text"


def test_every_config_key_is_documented():
    import dataclasses

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cls, header in docs.SECTIONS:
        assert f"#### `{header}`" in readme
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{header} {f.name} has no doc"
