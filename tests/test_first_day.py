"""Issue 14: what a new specialist trips over on the first real day, each point on a real data dir."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from conftest import PASSPHRASE

EXAMS = '[[exams]]\nid = "2026-06-01-math"\nsubject = "Математика"\nstart = "2026-06-01T10:00"\n'


def init_config(ppe, home: Path, extra: str = "") -> Path:
    r = ppe("init", "--region", "77", "--code", "0123", "--name", "ГБОУ Школа № 1")
    assert r.code == 0, r.err
    path = home / "ppe-tech.toml"
    if extra:
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


# -- 1. init writes examples only in comments ---------------------------------------------------

def test_init_writes_no_example_as_a_live_setting(ppe, home):
    path = init_config(ppe, home)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    checks = raw["checks"]
    for key in ("exam_software", "forbidden_processes", "ntp_server", "printers", "hosts"):
        assert key not in checks, key
    assert "db" not in raw.get("region", {})
    assert "ntp_server" not in raw.get("onvif", {})
    text = path.read_text(encoding="utf-8")
    assert '# printers = ["HP_LaserJet_Pro"]' in text and '# db = "postgresql://ppe_0123@rcoi.example/journals"' in text
    # the day's plan has no push step towards a server nobody configured
    path.write_text(text + EXAMS, encoding="utf-8")
    r = ppe("exam", "plan", "--json")
    assert "region" not in [s["step"] for s in r.json["steps"]], r.out


def test_a_value_left_at_the_example_is_named_by_check_run_and_exam_status(ppe, home):
    init_config(ppe, home)
    path = home / "ppe-tech.toml"
    text = path.read_text(encoding="utf-8").replace('# printers = ["HP_LaserJet_Pro"]', 'printers = ["HP_LaserJet_Pro"]')
    text = text.replace('# db = "postgresql://ppe_0123@rcoi.example/journals"',
                        'db = "postgresql://ppe_0123@rcoi.example/journals"')
    path.write_text(text + EXAMS, encoding="utf-8")
    r = ppe("check", "run", "--only", "system.disk", "--no-journal")
    assert "checks.printers" in r.err and "example" in r.err, r.err
    assert "region.db" in r.err
    r = ppe("exam", "status", "--json")
    assert r.json["example_settings"] == ["checks.printers", "region.db"], r.out
    assert "checks.printers" in r.err
    # a real value is not flagged
    path.write_text(text.replace('printers = ["HP_LaserJet_Pro"]', 'printers = ["Kyocera_2040"]'), encoding="utf-8")
    r = ppe("check", "run", "--only", "system.disk", "--no-journal")
    assert "checks.printers" not in r.err


# -- 4. no configuration found ---------------------------------------------------------------------

def test_commands_that_need_a_config_say_where_they_looked(ppe, home):
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    for args in (["exam", "status"], ["exam", "plan"], ["cameras", "list"], ["archive", "create", "--exam", "x",
                                                                               "--to", str(home)],
                 ["schedule", "sync", "--dry-run"]):
        r = ppe(*args)
        assert r.code == 2, (args, r.out, r.err)
        assert "no configuration found" in r.err and str(elsewhere / "ppe-tech.toml") in r.err, r.err
        assert "xdg-config" in r.err and "Journal" not in r.out
    # the pre-check runs on defaults but says so
    r = ppe("check", "run", "--only", "system.disk", "--no-journal")
    assert "no configuration found" in r.err
    # in the config's folder, or with --config, all is well
    os.chdir(home)
    init_config(ppe, home)
    os.chdir(elsewhere)
    r = ppe("--config", home / "ppe-tech.toml", "exam", "status")
    assert "no configuration found" not in r.err and "Journal" in r.out
