"""Bad input: one clear line, the contract's exit code, and the journal unchanged."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ppe_tech.secrets import mask_url
from conftest import toml_str, IS_ROOT, subprocess_env


def dump(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT seq, kind, number, ts, body, sig, hash FROM records ORDER BY seq").fetchall()


@pytest.fixture
def journal_with_entry(ppe, people, home):
    r = ppe("journal", "add", "--room", "0101", "--action", "Начало записи", "--key", people["specialist"])
    assert r.code == 0, r.err
    path = home / "data" / "journal.sqlite"
    return path, dump(path)


def one_line(r, code, *needles):
    assert r.code == code, (r.code, r.err)
    lines = r.err_lines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in r.err


def test_wrong_passphrase(ppe, people, journal_with_entry, monkeypatch):
    path, before = journal_with_entry
    monkeypatch.setenv("PPE_TECH_PASSPHRASE", "not the passphrase")
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--key", people["specialist"])
    one_line(r, 2, "wrong passphrase", people["specialist"])
    assert "not the passphrase" not in r.err
    assert dump(path) == before


def test_unknown_key_id(ppe, people, journal_with_entry):
    path, before = journal_with_entry
    one_line(ppe("journal", "add", "--room", "0101", "--action", "x", "--key", "ffff"), 2, "no private key ffff")
    one_line(ppe("journal", "confirm", "--key", "zz"), 2, "zz")
    assert dump(path) == before


@pytest.mark.parametrize("args, needle", [
    (["--date", "2026-02-30"], "--date"),
    (["--date", "01.06.2026"], "YYYY-MM-DD"),
    (["--start", "24:00"], "--start"),
    (["--start", "9:05"], "HH:MM"),
    (["--end", "10:61"], "--end"),
    (["--start", "10:00", "--end", "09:00"], "before start"),
    (["--room", "   "], "room must not be empty"),
    (["--action", "a\nb"], "one line"),
])
def test_malformed_entry_values(ppe, people, journal_with_entry, args, needle):
    path, before = journal_with_entry
    base = {"--room": "0101", "--action": "Начало записи"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [x for pair in base.items() for x in pair]
    one_line(ppe("journal", "add", *flat, "--key", people["specialist"]), 2, needle)
    assert dump(path) == before


def test_malformed_list_dates(ppe, journal_with_entry):
    one_line(ppe("journal", "list", "--from", "yesterday"), 2, "--from")
    one_line(ppe("journal", "print", "--out", "x.pdf", "--to", "2026-13-01"), 2, "--to")


def test_file_that_is_not_a_journal(ppe, home, monkeypatch):
    bogus = home / "notes.txt"
    bogus.write_text("это не журнал\n" * 100, encoding="utf-8")
    content = bogus.read_bytes()
    (home / "ppe-tech.toml").write_text(f'[journal]\npath = {toml_str(bogus)}\n', encoding="utf-8")
    one_line(ppe("journal", "verify"), 2, "not a ppe-tech journal")
    one_line(ppe("keys", "create", "--station"), 2, "not a ppe-tech journal")
    assert bogus.read_bytes() == content
    other = home / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t(x)")
        conn.execute("INSERT INTO t VALUES (1)")
    before = other.read_bytes()
    (home / "ppe-tech.toml").write_text(f'[journal]\npath = {toml_str(other)}\n', encoding="utf-8")
    one_line(ppe("keys", "create", "--station"), 2, "not a ppe-tech journal")
    assert other.read_bytes() == before


def test_missing_journal(ppe):
    one_line(ppe("journal", "verify"), 2, "no journal at")


def test_no_passphrase_without_terminal(ppe, monkeypatch):
    monkeypatch.delenv("PPE_TECH_PASSPHRASE")
    one_line(ppe("keys", "create", "--name", "Иванов И.И.", "--position", "технический специалист"), 2,
             "passphrase is needed", "--passphrase-file")


def test_short_passphrase_and_missing_passphrase_file(ppe, home, monkeypatch):
    monkeypatch.setenv("PPE_TECH_PASSPHRASE", "short")
    one_line(ppe("keys", "create", "--name", "Иванов И.И.", "--position", "специалист"), 2, "at least 8")
    one_line(ppe("keys", "create", "--name", "Иванов И.И.", "--position", "специалист", "--passphrase-file",
                 home / "none.txt"), 2, "none.txt does not exist")
    assert not list((home / "data" / "keys").glob("*.key")) if (home / "data" / "keys").exists() else True


def test_output_into_missing_folder(ppe, journal_with_entry, home):
    one_line(ppe("journal", "print", "--out", home / "no" / "such" / "j.pdf"), 2, "does not exist")
    one_line(ppe("journal", "print", "--out", home / "j.txt"), 2, ".pdf")


def test_unknown_option_is_one_line(ppe):
    one_line(ppe("journal", "add", "--bogus"), 2, "No such option", "--help")
    one_line(ppe("journal", "frobnicate"), 2, "No such command")


def test_internal_error_is_one_line_with_traceback_on_debug(ppe, journal_with_entry, monkeypatch):
    import journal.printing

    def boom(*args, **kwargs):
        raise RuntimeError("rtsp://admin:hunter2@192.0.2.1/ exploded")
    monkeypatch.setattr(journal.printing, "select", boom)
    r = ppe("journal", "list")
    one_line(r, 3, "internal error", "--debug")
    assert "hunter2" not in r.err
    r = ppe("--debug", "journal", "list")
    assert r.code == 3 and "Traceback" in r.err


def run_as_other_user(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`ppe-tech --data-dir FOLDER ARGS` in a fresh process; as root, run as nobody so permissions bite."""
    cmd = [sys.executable, "-m", "ppe_tech", "--data-dir", str(folder), *args]
    kwargs = {"user": 65534, "group": 65534} if IS_ROOT else {}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=folder, **kwargs,
                          env=subprocess_env(HOME=str(folder), XDG_CONFIG_HOME=str(folder)))


@pytest.fixture
def public_folder():
    if os.name != "posix":
        pytest.skip("permission bits and another user: POSIX (on Windows chmod only sets read-only; keys get an ACL)")
    folder = Path(tempfile.mkdtemp(prefix="ppe-perm-", dir="/tmp" if sys.platform != "win32" else None))
    os.chmod(folder, 0o755)  # reachable by everyone
    yield folder
    os.chmod(folder, 0o755)
    shutil.rmtree(folder)


def test_unreadable_journal_exit_3(ppe, journal_with_entry, public_folder):
    path, before = journal_with_entry
    shutil.copy(path, public_folder / "journal.sqlite")
    os.chmod(public_folder / "journal.sqlite", 0)
    proc = run_as_other_user(public_folder, "journal", "verify")
    os.chmod(public_folder / "journal.sqlite", 0o644)
    assert proc.returncode == 3, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "permission denied" in lines[0], lines
    assert dump(public_folder / "journal.sqlite") == before


def test_read_only_copy_verifies_and_prints(ppe, journal_with_entry, public_folder):
    """The commission head verifies a copy on read-only media: nothing may be written beside it."""
    path, before = journal_with_entry
    shutil.copy(path, public_folder / "journal.sqlite")
    os.chmod(public_folder / "journal.sqlite", 0o444)
    os.chmod(public_folder, 0o555)
    proc = run_as_other_user(public_folder, "journal", "verify", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["entries"] == 1
    proc = run_as_other_user(public_folder, "journal", "list", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["entries"][0]["action"] == "Начало записи"
    assert sorted(p.name for p in public_folder.iterdir()) == ["journal.sqlite"]


def test_mask_url():
    assert mask_url("rtsp://admin:s3cr3t@192.0.2.1:554/s") == "rtsp://admin:***@192.0.2.1:554/s"
    assert mask_url("see rtsp://u:p@h/a and http://x:y@z/") == "see rtsp://u:***@h/a and http://x:***@z/"
    assert mask_url("rtsp://192.0.2.1/s") == "rtsp://192.0.2.1/s"


@pytest.mark.parametrize("config,missing", [
    (None, "[ppe] region and code"),                                                  # no config at all
    ("", "[ppe] region and code"),                                                    # an empty one
    ('[[cameras]]\nid = "c1"\nlocation = "corridor"\nurl = "rtsp://h/s"\n', "[ppe] region and code"),
    ('[ppe]\ncode = "0123"\n', "[ppe] region must"),
    ('[ppe]\nregion = "77"\n', "[ppe] code must"),
])
def test_a_journal_is_started_only_for_an_exam_point_with_its_codes(ppe, home, config, missing):
    """A journal begun without the ППЭ's codes could never be pushed to the region (its chain is
    filed under them): starting one is refused, naming the section, and nothing is written."""
    path = home / "ppe-tech.toml"
    if config is None:
        path.unlink()
    else:
        path.write_text(config, encoding="utf-8")
    for args in (["keys", "create", "--name", "Иванов И. И.", "--position", "технический специалист"],
                 ["keys", "create", "--station"]):
        r = ppe(*args)
        assert r.code == 2 and missing in r.err and len(r.err_lines()) == 1, r.err
    assert not (home / "data" / "journal.sqlite").exists() and not list((home / "data").glob("keys/*"))
    path.write_text('[ppe]\nregion = "77"\ncode = "0123"\n', encoding="utf-8")
    assert ppe("keys", "create", "--station").code == 0
    path.write_text("", encoding="utf-8")  # a journal already begun is left to work as it is
    assert ppe("keys", "create", "--station").code == 0 and ppe("journal", "verify").code == 0
