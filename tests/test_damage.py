"""A damaged journal file: what SQLite finds in its pages is a failed verification (exit 1),
and every command says the file is damaged instead of crashing; dates stay in a sane range."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import build_journal, host_tool, skip_under_wine


@pytest.fixture
def journal_file(home):
    path = home / "data" / "journal.sqlite"
    build_journal(path, home / "data" / "keys", 300, durable=True, confirm_every=50)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _overwrite_page(path, *, of: str, offset: int = 200, length: int = 64) -> None:
    """Overwrite bytes inside the root page of table or index `of`, as a failing disk would."""
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (of,)).fetchone()[0]
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size + offset)
        handle.write(bytes([0xA5]) * length)


def _checkpoint(ppe, home):
    r = ppe("journal", "checkpoint", "--key", _head_key(ppe), "--out", home / "cp.json")
    assert r.code == 0, r.err


def _head_key(ppe):
    return next(k["key_id"] for k in ppe("keys", "list", "--json").json["keys"] if k["position"] == "руководитель ППЭ")


@pytest.mark.parametrize("what", ["records_kind", "sqlite_autoindex_records_1", "checkpoints", "records"])
def test_damaged_pages_fail_verification_and_no_command_crashes(ppe, home, journal_file, what):
    if what == "checkpoints":
        _checkpoint(ppe, home)
        with sqlite3.connect(journal_file) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _overwrite_page(journal_file, of=what, offset=8, length=2000)
    r = ppe("journal", "verify", "--full", "--json")
    assert r.code == 1, (r.code, r.err)
    assert r.json["ok"] is False and r.json["problem"] == "damaged" and "damaged" in r.json["reason"], r.out
    for args in (["journal", "verify"], ["journal", "list"], ["journal", "export", "--format", "json"],
                 ["journal", "add", "--room", "0101", "--action", "Проверка", "--key", _key(home)],
                 ["journal", "print", "--out", home / "j.pdf"]):
        r = ppe(*args)
        assert "internal error" not in r.err and "Traceback" not in r.err, (args, r.err)
        if r.code != 0:  # a command that reads no damaged page may still work; one that does says so
            said = r.out + r.err if args == ["journal", "verify"] else r.err
            assert r.code == 1 and "damaged" in said and str(journal_file) in said, (args, r.code, r.err)
    assert ppe("journal", "verify").code == 1


def _key(home):
    return sorted(p.stem for p in (home / "data" / "keys").glob("*.key"))[0]


def test_quick_check_finds_damage_and_full_finds_more(ppe, home, journal_file):
    _overwrite_page(journal_file, of="records_kind", offset=8, length=2000)
    quick = ppe("journal", "verify", "--json")
    full = ppe("journal", "verify", "--full", "--json")
    assert full.code == 1 and full.json["problem"] == "damaged"
    assert quick.code == 1  # the quick check or the replay catches it too


@pytest.mark.parametrize("keep", [0.5, 0.1, 4096 + 10])
def test_a_truncated_journal_is_a_failed_verification(ppe, home, journal_file, keep):
    data = journal_file.read_bytes()
    journal_file.write_bytes(data[: int(len(data) * keep) if keep < 1 else int(keep)])
    r = ppe("journal", "verify", "--json")
    assert r.code == 1, (r.code, r.err)
    assert r.json["ok"] is False and r.json["problem"] == "damaged"
    r = ppe("journal", "list")
    assert r.code == 1 and "damaged" in r.err and len(r.err_lines()) <= 2, r.err


def test_a_file_that_is_not_a_journal_is_still_bad_input(ppe, home):
    (home / "data").mkdir()
    (home / "data" / "journal.sqlite").write_bytes(b"just some text, not SQLite at all\n" * 200)
    r = ppe("journal", "verify")
    assert r.code == 2 and "not a ppe-tech journal" in r.err


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
def test_dates_outside_the_sane_range_are_refused(ppe, people, day):
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--date", day, "--key", people["specialist"])
    assert r.code == 2 and "2000" in r.err and "2099" in r.err and len(r.err_lines()) == 1, r.err
    r = ppe("journal", "list", "--to", day)
    assert r.code == 2


def test_filters_compare_dates_not_strings(ppe, people):
    from datetime import date

    from journal import printing
    from journal.model import Entry

    def entry(d):
        return Entry(number=1, seq=1, ts="", date=d, room="0101", start="", end=None, action="x", key_id="k")
    entries = [entry("2099-12-31"), entry("2026-06-01"), entry("not-a-date")]
    assert [e.date for e in printing.select(entries, None, None)] == ["2099-12-31", "2026-06-01", "not-a-date"]
    assert [e.date for e in printing.select(entries, date(2026, 6, 1), date(2026, 6, 1))] == ["2026-06-01",
                                                                                          "not-a-date"]
    for d in ("2099-12-31", "2026-06-01"):
        assert ppe("journal", "add", "--room", "0101", "--action", d, "--date", d,
                   "--key", people["specialist"]).code == 0
    assert [e["date"] for e in ppe("journal", "list", "--json").json["entries"]] == ["2099-12-31", "2026-06-01"]


@skip_under_wine("pdftotext")
def test_a_journal_written_before_dates_were_bounded_prints_four_digit_years(ppe, home):
    """Year 1 in an old journal prints as «01.01.0001», never glibc's «01.01.1»."""
    import subprocess

    from journal.journal import Journal

    path = home / "data" / "journal.sqlite"
    made = build_journal(path, home / "data" / "keys", 1)
    spec = made["specialist"].key_id
    with Journal.open(path, clock=made["clock"]) as j:  # the library takes any date: only the CLI bounds them
        j.add(date="0001-01-01", room="0101", start="08:00", end=None, action="старая запись", by=spec,
              signer=made["signers"][spec])
    r = ppe("journal", "print", "--out", home / "j.pdf")
    assert r.code == 0, r.err
    text = subprocess.run([host_tool("pdftotext"), "-layout", str(home / "j.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "01.01.0001" in text and "01.01.1 " not in text
