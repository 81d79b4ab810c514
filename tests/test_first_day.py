"""Issue 14: what a new specialist trips over on the first real day, each point on a real data dir."""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import PASSPHRASE, toml_str

EXAMS = '[[exams]]\nid = "2026-06-01-math"\nsubject = "Математика"\nstart = "2026-06-01T10:00"\n'


def init_config(ppe, home: Path, extra: str = "") -> Path:
    (home / "ppe-tech.toml").unlink()  # the fixture's [ppe]-only config: init starts from nothing
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


# -- 10. the smaller points ------------------------------------------------------------------------------

def _simulate(home: Path, base: int, *args) -> "subprocess.Popen":
    import subprocess
    import sys

    from conftest import subprocess_env

    return subprocess.Popen([sys.executable, "-P", "-m", "ppe_tech", "cameras", "simulate", "--port-base", str(base),
                             *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home,
                            env=subprocess_env(XDG_CACHE_HOME=str(home / "xdg-cache")))


def _interrupt(proc) -> None:
    """Ctrl-C for the simulator; on Windows (no SIGINT to send) it is ended, which frees its ports too."""
    import signal

    if sys.platform == "win32":
        proc.terminate()
    else:
        proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)


def test_simulate_writes_a_whole_config_and_keeps_its_ports_across_restarts(ppe, home, sim_cache):
    import random

    from conftest import wait_for
    from video.simulator import port_free

    (home / "xdg-cache" / "ppe-tech").mkdir(parents=True)
    (home / "xdg-cache" / "ppe-tech" / "simulator").symlink_to(sim_cache)  # the session's encoded loops
    base = next(b for b in (random.randrange(21000, 31000, 2) for _ in range(50))
                if all(port_free(p) for p in range(b, b + 4)))
    first, second = home / "sim.toml", home / "sim-again.toml"
    proc = _simulate(home, base, "--count", "2", "--write-config", first)
    try:
        assert wait_for(first.exists, 60), proc.stderr.read() if proc.poll() is not None else "no config"
        if sys.platform != "win32":  # Windows: an ACL instead (tests/test_windows.py), modes mean nothing there
            assert stat.S_IMODE(first.stat().st_mode) == 0o600
        raw = tomllib.loads(first.read_text(encoding="utf-8"))
        assert raw["ppe"]["region"] and raw["ppe"]["code"] and raw["recording"]["segment"]
        assert [c["url"] for c in raw["cameras"]] == [f"rtsp://127.0.0.1:{base}/stream1",
                                                      f"rtsp://127.0.0.1:{base + 2}/stream1"]
        assert [c["onvif"] for c in raw["cameras"]] == [f"http://127.0.0.1:{base + 1}/onvif/device_service",
                                                        f"http://127.0.0.1:{base + 3}/onvif/device_service"]
        assert len(raw["exams"]) == 1
        # usable as it is: the cameras answer, their clocks read, the day has a plan
        assert ppe("--config", first, "cameras", "probe").code == 0
        assert ppe("--config", first, "cameras", "clock", "--json").code == 0
        assert ppe("--config", first, "exam", "plan", "--json").json["exam"]["id"] == raw["exams"][0]["id"]
        # a second simulator on the same ports is named clearly
        clash = _simulate(home, base, "--count", "1")
        out, err = clash.communicate(timeout=60)
        assert clash.returncode == 3 and f"port {base} on 127.0.0.1 is taken" in err and "--port-base" in err, err
    finally:
        _interrupt(proc)
    # restarted, it serves the same ports: the written config still works
    proc = _simulate(home, base, "--count", "2", "--write-config", second)
    try:
        assert wait_for(second.exists, 60)
        assert [c["url"] for c in tomllib.loads(second.read_text(encoding="utf-8"))["cameras"]] == \
            [c["url"] for c in raw["cameras"]]
        assert ppe("--config", first, "cameras", "probe").code == 0
    finally:
        _interrupt(proc)


LATIN_UNITS = (" s ", " s)", " s,", " s\n", "MiB", "GiB", " ago", "0s ", "0s\n")


def test_russian_counts_take_the_right_form_in_the_cli(ppe, home):
    import gettext
    import re

    from ppe_tech.messages import LOCALE_DIR, russian_form
    from templates.render import plural_ru

    # the catalogue's Plural-Forms and the documents' rule are one rule
    catalogue = gettext.translation("ppe_tech", LOCALE_DIR, languages=["ru"])
    forms = ("0", "1", "2")
    for n in range(0, 1000):
        assert catalogue.ngettext("{n} file as in the baseline of {when}{note}",
                                  "{n} files as in the baseline of {when}{note}", n) != ""
        assert plural_ru(n, *forms) == f"{n} {russian_form(n)}"
    po = (LOCALE_DIR / "ru" / "LC_MESSAGES" / "ppe_tech.po").read_text(encoding="utf-8")
    assert "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || " in po
    assert re.search(r'msgid "Archive intact: \{n\} file, [^\n]*\nmsgid_plural "Archive intact: \{n\} files, '
                     r'[^\n]*\nmsgstr\[0\] "[^"]+"\nmsgstr\[1\] "[^"]+"\nmsgstr\[2\] "[^"]+"', po)
    # on a real data dir: the baseline of 1, 3, 5 and 21 files, and the check that reads it
    software = home / "exam-software"
    software.mkdir()
    path = init_config(ppe, home)
    path.write_text(path.read_text(encoding="utf-8").replace("[checks]\n", f'[checks]\nexam_software = [{toml_str(software)}]\n', 1),
                    encoding="utf-8")
    assert ppe("keys", "create", "--station").code == 0
    made = 0
    for n, word, agreed in ((1, "файла", "файл совпадает"), (3, "файлов", "файла совпадают"),
                            (5, "файлов", "файлов совпадают"), (21, "файла", "файл совпадает")):
        while made < n:
            made += 1
            (software / f"f{made}.txt").write_text(str(made), encoding="utf-8")
        r = ppe("--lang", "ru", "check", "baseline", "create")
        assert r.code == 0 and f"Эталон из {n} {word} (" in r.out, r.out
        r = ppe("--lang", "ru", "check", "run", "--only", "integrity.baseline", "--no-journal", "--verbose")
        assert f"{n} {agreed} с эталоном" in r.out, r.out
        assert "МиБ" in ppe("--lang", "ru", "check", "baseline", "create").out
    # English counts agree too
    assert "Baseline of 21 files" in ppe("check", "baseline", "create").out


def test_exam_status_and_check_run_speak_russian_words_and_units(ppe, home):
    path = init_config(ppe, home)
    path.write_text(path.read_text(encoding="utf-8").replace('floor = "10GiB"', 'floor = "1000TiB"') + EXAMS,
                    encoding="utf-8")
    r = ppe("--lang", "ru", "check", "run", "--only", "system.disk", "--no-journal")
    assert "Предупреждение" in r.out and " с\n" in r.out, r.out  # «0.01 с», not «0.01s»
    assert not any(unit in r.out for unit in LATIN_UNITS), r.out
    assert ppe("check", "run", "--only", "system.disk", "--no-journal", "--json").json["status"] == "warn"
    r = ppe("--lang", "ru", "exam", "status")
    line = next(x for x in r.out.splitlines() if x.startswith("Проверка:"))
    assert "предупреждение" in line and "warn" not in line, line
    assert ppe("exam", "status", "--json").json["last_check"]["status"] == "warn"  # the contract stays
    plan = ppe("--lang", "ru", "exam", "plan").out
    assert "warn" not in plan and "pass" not in plan


def test_the_top_level_help_lists_the_whole_day_with_real_commands(ppe):
    import re

    import click

    from ppe_tech.cli import cli

    for lang, heading in (("en", "Exam day, in order"), ("ru", "День экзамена, по порядку")):
        r = ppe("--lang", lang, "--help")
        text = r.out.split(heading, 1)[1].split("\n\n", 1)[0]
        listed = [re.split(r"\s{2,}", line.split("ppe-tech ", 1)[1])[0] for line in text.splitlines()
                  if line.strip().startswith("ppe-tech ")]
        commands = [" ".join(w for w in item.split()[:3] if w.islower() and not w.startswith("-")) for item in listed]
        for expected in ("init", "keys create", "cameras discover", "cameras clock", "check run", "schedule sync",
                         "cameras start", "exam status", "cameras stop", "archive create", "archive verify",
                         "journal confirm", "journal print", "journal push"):
            assert any(c.startswith(expected) for c in commands), (lang, expected, commands)
        for item in listed:  # every line names a real command with real options
            words = item.split()
            command, ctx = cli, click.Context(cli)
            while isinstance(command, click.Group) and words and command.get_command(ctx, words[0]) is not None:
                command = command.get_command(ctx, words.pop(0))
                ctx = click.Context(command, parent=ctx)
            assert not isinstance(command, click.Group), item
            options = {o for p in command.params for o in p.opts}
            assert all(w in options for w in words if w.startswith("--")), item
    r = ppe("--help")
    assert r.out.index("cameras discover") < r.out.index("cameras start") < r.out.index("archive create")


def test_a_toml_date_without_quotes_gets_a_hint(ppe, home):
    path = home / "ppe-tech.toml"
    for value, example in (("2026-06-01 10:00", "2026-06-01T10:00"), ("2026-06-01T10:00", "2026-06-01T10:00"),
                           ("01.06.2026 10:00", "2026-06-01T10:00"), ("2026-6-1", "2026-06-01")):
        path.write_text(f'[[exams]]\nid = "math"\nstart = {value}\n', encoding="utf-8")
        r = ppe("exam", "plan")
        assert r.code == 2 and len(r.err_lines()) == 1, r.err
        assert f'ppe-tech.toml:3: not valid TOML' in r.err and f'put dates and times in quotes: start = "{example}"' in r.err
    path.write_text('[[exams]]\nid = "math"\nstart = 2026-06-01T10:00:00\n', encoding="utf-8")
    r = ppe("exam", "plan")
    assert r.code == 2 and "exams[1].start" in r.err and "put dates and times in quotes" in r.err
    path.write_text('[ppe]\nname = "unterminated\n', encoding="utf-8")  # another mistake gets no such hint
    r = ppe("exam", "plan")
    assert r.code == 2 and "not valid TOML" in r.err and "quotes" not in r.err


def test_readme_and_the_tool_agree_on_the_push_time_and_the_segment(ppe, home):
    from datetime import datetime, timedelta

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    path = init_config(ppe, home)
    text = path.read_text(encoding="utf-8").replace('# db = "postgresql://ppe_0123@rcoi.example/journals"',
                                                    'db = "postgresql://ppe@127.0.0.1:9/journals"')
    path.write_text(text + EXAMS + 'duration = "3h55m"\n', encoding="utf-8")
    steps = {s["step"]: s for s in ppe("exam", "plan", "--json").json["steps"]}
    end = datetime.fromisoformat(steps["end"]["at"])
    assert datetime.fromisoformat(steps["region"]["at"]) == end + timedelta(minutes=30)
    assert "`journal push` 30 minutes after the exam's end" in " ".join(readme.split())
    assert "(`journal push` after the exam's end)" not in " ".join(readme.split())
    written = tomllib.loads(text)["recording"]["segment"]
    row = next(line for line in readme.splitlines() if line.startswith("| `segment` |"))
    assert f"`{written}`" in row, (row, written)


def test_cameras_status_after_a_stop_says_stopped_and_when_the_last_data_came(ppe, home, simulator):
    import time
    from datetime import datetime

    from conftest import wait_for
    from video import recorder

    (home / "ppe-tech.toml").write_text('[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
                                        '[recording]\nsegment = "5s"\nstall_timeout = "4s"\ntimeout = "30s"\n'
                                        + simulator.config(["live-1"]), encoding="utf-8")
    assert ppe("keys", "create", "--station").code == 0
    assert ppe("cameras", "start").code == 0
    try:
        assert wait_for(lambda: ((recorder.read_state(home / "data" / "recorder") or {}).get("cameras", {})
                                 .get("live-1", {}).get("recording")), 20)
        live = ppe("--lang", "ru", "cameras", "status").out
        assert "с назад" in live and "МиБ" in live and "MiB" not in live, live
    finally:
        r = ppe("cameras", "stop")
    assert r.code == 0 and "MiB" in r.out
    time.sleep(3)
    r = ppe("cameras", "status")
    assert "Not recording: stopped at" in r.out, r.out
    line = next(x for x in r.out.splitlines() if x.startswith("live-1"))
    assert "stopped" in line and "last data at" in line and "data 1 s ago" not in line, line
    doc = ppe("cameras", "status", "--json").json
    cam = doc["cameras"][0]
    assert cam["recording"] is False and cam["last_segment_age_s"] >= 3, cam  # its age now, not at the stop
    assert doc["supervisor"]["stopped"] and cam["last_data"]
    assert datetime.fromisoformat(cam["last_data"]) <= datetime.fromisoformat(doc["supervisor"]["stopped"])
    r = ppe("--lang", "ru", "cameras", "status")
    assert "Запись не идёт: остановлена в" in r.out and "последние данные в" in r.out and " с назад)" in r.out, r.out
    assert not any(unit in r.out for unit in LATIN_UNITS), r.out
    # the journal's column 4: the stop is an action with a known end
    stop = ppe("journal", "list", "--json").json["entries"][-1]
    assert stop["action"] == "Отключение средства видеозаписи" and stop["end"] and stop["end"] >= stop["start"], stop


def test_the_journal_fills_column_4_where_the_action_s_end_is_known(ppe, home):
    from datetime import datetime, timedelta

    from pypdf import PdfReader

    init_config(ppe, home)
    assert ppe("keys", "create", "--station").code == 0
    r = ppe("check", "run", "--only", "system.disk", "--json")
    report = r.json
    entry = ppe("journal", "list", "--json").json["entries"][-1]
    assert entry["action"] == "Проверка работоспособности" and entry["number"] == report["journal_entry"]
    started = datetime.fromisoformat(report["started"])
    assert entry["start"] == f"{started:%H:%M}"
    assert entry["end"] is not None, entry  # a run of a second still has an end: start + its duration
    ended = started + timedelta(milliseconds=max(c["duration_ms"] for c in report["checks"]))
    assert f"{ended:%H:%M}" <= entry["end"] <= f"{ended + timedelta(minutes=1):%H:%M}"
    assert ppe("journal", "print", "--out", home / "j.pdf").code == 0
    text = " ".join(page.extract_text() for page in PdfReader(home / "j.pdf").pages)
    assert entry["end"] in text
    # an action written by hand without an end keeps column 4's end empty
    assert ppe("journal", "add", "--room", "0101", "--action", "Начало записи", "--start", "08:00",
               "--key", ppe("keys", "list", "--json").json["keys"][0]["key_id"]).code == 0
    assert ppe("journal", "list", "--json").json["entries"][-1]["end"] is None


def test_english_counts_take_the_singular_for_one(ppe, people, home):
    """«1 entries» is as wrong in English as «1 файлов» in Russian: counted CLI messages use ngettext."""
    r = ppe("--lang", "en", "journal", "add", "--room", "0101", "--action", "Проверка работоспособности",
            "--key", people["specialist"])
    assert r.code == 0, r.err
    verified = ppe("--lang", "en", "journal", "verify")
    assert verified.code == 0 and "Journal intact: 1 entry (" in verified.out, verified.out
    exported = ppe("--lang", "en", "journal", "export", "--format", "csv", "--out", home / "j.csv")
    assert "Exported 1 entry to" in exported.err, exported.err
    printed = ppe("--lang", "en", "journal", "print", "--out", home / "j.pdf")
    assert "Printed 1 entry on" in printed.out, printed.out
    russian = ppe("--lang", "ru", "journal", "verify")
    assert "Журнал цел: записей 1" in russian.out, russian.out
    ppe("--lang", "en", "journal", "add", "--room", "0101", "--action", "x", "--key", people["specialist"])
    assert "Journal intact: 2 entries (" in ppe("--lang", "en", "journal", "verify").out
