"""Issue 14: what a new specialist trips over on the first real day, each point on a real data dir."""

from __future__ import annotations

import json
import os
import stat
import sys
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


# -- 6. key custody ----------------------------------------------------------------------------------

def test_a_key_on_removable_media_signs_and_keys_list_says_where_each_key_is(ppe, home):
    from conftest import HEAD, SPECIALIST

    usb = home / "usb"
    usb.mkdir()
    r = ppe("keys", "create", "--name", HEAD[0], "--position", HEAD[1], "--out", usb, "--json")
    assert r.code == 0, r.err
    head = r.json["key_id"]
    key_path = usb / f"{head}.key"
    assert r.json["private_key"] == str(key_path.resolve())
    if sys.platform != "win32":  # Windows: an ACL instead (tests/test_windows.py), modes mean nothing there
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert not (home / "data" / "keys" / f"{head}.key").exists()
    spec = ppe("keys", "create", "--name", SPECIALIST[0], "--position", SPECIALIST[1], "--json").json["key_id"]
    listed = {k["key_id"]: k["private_key"] for k in ppe("keys", "list", "--json").json["keys"]}
    assert listed[head] == {"place": "removable", "path": str(key_path.resolve()), "present": True}
    assert listed[spec]["place"] == "here"
    r = ppe("keys", "list")
    assert "removable media" in r.out and str(key_path.resolve()) in r.out
    # the head signs from the stick; without the stick plugged in, keys list says so
    assert ppe("journal", "add", "--room", "0101", "--action", "Начало записи", "--key", spec).code == 0
    r = ppe("journal", "confirm", "--key-file", key_path, "--yes", "--json")
    assert r.code == 0 and r.json["key_id"] == head, r.err
    assert ppe("journal", "add", "--room", "0101", "--action", "x", "--key-file", key_path, "--json").json["number"] == 2
    moved = home / "elsewhere.key"
    key_path.rename(moved)
    listed = {k["key_id"]: k["private_key"] for k in ppe("keys", "list", "--json").json["keys"]}
    assert listed[head]["present"] is False
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--key-file", key_path)
    assert r.code == 2 and str(key_path) in r.err
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--key", spec, "--key-file", moved)
    assert r.code == 2 and "different keys" in r.err
    r = ppe("journal", "add", "--room", "0101", "--action", "x")
    assert r.code == 2 and "--key-file" in r.err
    # --out never replaces a file
    r = ppe("keys", "create", "--name", HEAD[0], "--position", HEAD[1], "--out", moved)
    assert r.code == 2 and "exists" in r.err


def test_confirming_ones_own_entries_is_refused(ppe, people):
    spec, head = people["specialist"], people["head"]
    for action in ("Проверка работоспособности", "Начало записи"):
        assert ppe("journal", "add", "--room", "0101", "--action", action, "--key", spec).code == 0
    r = ppe("journal", "confirm", "--key", spec, "--yes")
    assert r.code == 2 and "1, 2" in r.err and "another person" in r.err, r.err
    assert ppe("journal", "verify", "--json").json["confirmed"] == 0
    # the head confirms the specialist's entries; the head's own entry needs someone else
    assert ppe("journal", "confirm", "--key", head, "--yes").code == 0
    assert ppe("journal", "add", "--room", "0101", "--action", "Корректировка ракурса", "--key", head).code == 0
    r = ppe("journal", "confirm", "--key", head, "--yes")
    assert r.code == 2 and "3" in r.err


def test_confirm_shows_what_it_signs_and_asks(ppe, people, monkeypatch):
    import sys

    import click

    spec, head = people["specialist"], people["head"]
    ppe("journal", "add", "--room", "0101", "--action", "Начало записи", "--start", "08:20", "--key", spec)
    r = ppe("journal", "confirm", "--key", head)
    assert r.code == 2 and "--yes" in r.err and "Начало записи" in r.err  # no terminal to ask
    answers = []

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(click, "confirm", lambda text, **kw: answers.append(text) or False)
    r = ppe("journal", "confirm", "--key", head)
    assert r.code == 1 and answers and "Nothing signed" in r.err
    assert "08:20" in r.err and "Иванов Иван Иванович" in r.err and "Петров" in r.err
    assert ppe("journal", "verify", "--json").json["confirmed"] == 0
    monkeypatch.setattr(click, "confirm", lambda text, **kw: True)
    assert ppe("journal", "confirm", "--key", head).code == 0
    assert ppe("journal", "verify", "--json").json["confirmed"] == 1


def test_verify_reports_an_old_self_confirmation(ppe, home):
    from conftest import build_journal

    data = home / "data"
    made = build_journal(data / "journal.sqlite", data / "keys", 2)
    spec = made["specialist"]
    from journal.journal import Journal

    # what an earlier version let through: the specialist confirms his own entries 1-2
    with Journal.open(data / "journal.sqlite", clock=made["clock"], region="77", ppe="0123") as j:
        j._append("confirm", lambda tx: {"from": 1, "upto": 2, "by": spec.key_id}, made["signers"][spec.key_id])
    r = ppe("journal", "verify", "--json")
    assert r.code == 0 and r.json["ok"] is True
    assert r.json["findings"] == [{"kind": "self_confirmed", "entries": [1, 2], "message": r.json["findings"][0]["message"]}]
    assert "entries 1, 2" in r.err
    assert ppe("journal", "verify", "--strict").code == 1


# -- 8. where the protocol goes ----------------------------------------------------------------------

def test_check_run_names_the_protocol_and_a_rerun_keeps_the_earlier_one(ppe, home):
    init_config(ppe, home)
    out = home / "protocol.pdf"
    r = ppe("check", "run", "--only", "system.disk", "--no-journal", "--pdf", out)
    assert f"Protocol: {out}" in r.err and out.exists()
    first = out.read_bytes()
    r = ppe("check", "run", "--only", "system.disk", "--no-journal", "--pdf", out)
    second = home / "protocol-2.pdf"
    assert f"Protocol: {second}" in r.err and second.exists()
    assert out.read_bytes() == first
    r = ppe("check", "run", "--only", "system.disk", "--no-journal", "--pdf", out)
    assert (home / "protocol-3.pdf").exists()


def test_schedule_due_names_the_protocol_folder(ppe, home):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    start = (datetime.now(ZoneInfo("Europe/Moscow")) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    init_config(ppe, home, f'[[exams]]\nid = "later"\nstart = "{start}"\n')
    r = ppe("schedule", "due", "--json")
    assert r.json["exams"][0]["protocol_dir"] == str(home / "data" / "checks")
    r = ppe("schedule", "due")
    assert str(home / "data" / "checks") in r.out


# -- 5. the rehearsal ----------------------------------------------------------------------------------

def test_a_rehearsal_leaves_the_real_journal_alone_and_marks_every_document(ppe, people, home):
    from pypdf import PdfReader

    init_config(ppe, home, '\n[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nroom = "коридор"\n'
                           'url = "rtsp://127.0.0.1:9/stream1"\n' + EXAMS)
    spec, head = people["specialist"], people["head"]
    assert ppe("journal", "add", "--room", "0101", "--action", "Проверка работоспособности", "--key", spec).code == 0
    real_journal = (home / "data" / "journal.sqlite").read_bytes()
    r = ppe("--rehearsal", "check", "run", "--only", "system.disk", "--pdf", home / "p.pdf")
    assert "REHEARSAL" in r.err and str(home / "data-rehearsal") in r.err
    text = " ".join(page.extract_text() for page in PdfReader(home / "p.pdf").pages)
    assert "РЕПЕТИЦИЯ" in text
    # people sign with their own keys in the rehearsal's journal
    assert ppe("--rehearsal", "journal", "add", "--room", "0101", "--action", "Начало записи", "--key", spec).code == 0
    assert ppe("--rehearsal", "journal", "confirm", "--key", head, "--yes").code == 0
    rehearsed = ppe("--rehearsal", "journal", "list", "--json").json["entries"]
    assert [e["action"] for e in rehearsed] == ["Проверка работоспособности", "Начало записи"]
    assert ppe("--rehearsal", "journal", "verify").code == 0
    assert ppe("--rehearsal", "journal", "print", "--out", home / "j.pdf").code == 0
    assert all("РЕПЕТИЦИЯ" in page.extract_text() for page in PdfReader(home / "j.pdf").pages)
    # the cameras of the real config, and the rehearsal's own recordings and reports
    assert [c["id"] for c in ppe("--rehearsal", "cameras", "list", "--json").json["cameras"]] == ["corr-1"]
    assert (home / "data-rehearsal" / "checks" / "reports").is_dir()
    assert not (home / "data" / "checks").exists()
    # the real journal is untouched, and a real document carries no mark
    assert (home / "data" / "journal.sqlite").read_bytes() == real_journal
    assert len(ppe("journal", "list", "--json").json["entries"]) == 1
    assert ppe("check", "run", "--only", "system.disk", "--no-journal", "--pdf", home / "real.pdf").code in (0, 1)
    assert "РЕПЕТИЦИЯ" not in " ".join(p.extract_text() for p in PdfReader(home / "real.pdf").pages)
    # what would reach outside is refused
    for args in (["journal", "push", "--to", "postgresql://127.0.0.1:9/x"], ["schedule", "sync", "--dry-run"],
                 ["keys", "create", "--station"]):
        r = ppe("--rehearsal", *args)
        assert r.code == 2 and "rehearsal" in r.err, (args, r.err)
    r = ppe("exam", "rehearse", "--json")
    assert r.json["exists"] and r.json["journal_entries"] == 2
    assert ppe("exam", "rehearse", "--reset").code == 0
    assert not (home / "data-rehearsal").exists() and (home / "data" / "journal.sqlite").exists()


# -- 7. secrets on the machine -------------------------------------------------------------------------

def test_init_writes_the_config_0600_and_a_readable_one_with_passwords_is_named(ppe, home):
    path = init_config(ppe, home)
    if sys.platform == "win32":
        pytest.skip("mode bits: POSIX (on Windows init restricts the config by ACL, tests/test_windows.py)")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text(path.read_text(encoding="utf-8") + '\n[[cameras]]\nid = "c1"\nlocation = "corridor"\n'
                    'url = "rtsp://admin:s3cret@127.0.0.1:9/stream1"\n', encoding="utf-8")
    r = ppe("cameras", "list")
    assert "other users" not in r.err
    os.chmod(path, 0o644)
    r = ppe("cameras", "list")
    assert "other users of this computer can read it" in r.err and "chmod 600" in r.err
    assert "s3cret" not in r.err + r.out
