"""Tampering with the SQLite file directly: verify must fail and name the entry."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal import canonical, checkpoint
from journal.journal import Journal
from journal.signing import Ed25519Signer
from conftest import build_journal


@pytest.fixture
def setup(home, ppe):
    data = home / "data"
    made = build_journal(data / "journal.sqlite", data / "keys", 8, confirm_every=4)
    return data / "journal.sqlite", made


def db(path):
    return sqlite3.connect(path, isolation_level=None)


def verify(ppe, *extra):
    r = ppe("journal", "verify", "--json", *extra)
    return r.code, r.json


def seq_of(conn, number):
    return conn.execute("SELECT seq FROM records WHERE number = ?", (number,)).fetchone()[0]


def test_intact_journal_verifies(setup, ppe):
    code, result = verify(ppe)
    assert code == 0 and result["ok"] and result["entries"] == 8 and result["confirmed"] == 8


def test_edited_field(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        body = conn.execute("SELECT body FROM records WHERE number = 5").fetchone()[0]
        doc = json.loads(body)
        doc["room"] = "9999"
        conn.execute("UPDATE records SET body = ? WHERE number = 5", (canonical.encode(doc),))
    code, result = verify(ppe)
    assert code == 1 and result["ok"] is False
    assert result["first_bad"] == 5 and result["problem"] == "signature"
    assert "entry 5" in result["reason"]


def test_edited_with_sql_text_replace(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        conn.execute("UPDATE records SET body = replace(body, 'работоспособности 3', 'работоспособности 33') "
                     "WHERE number = 3")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 3


def test_edited_stored_column_only(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        conn.execute("UPDATE records SET ts = '2020-01-01T00:00:00.000000+00:00' WHERE number = 6")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 6 and result["problem"] == "edited"


def test_deleted_entry(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE number = 4")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 4 and result["problem"] == "removed"


def test_deleted_and_renumbered(setup, ppe):
    """Remove entry 4 and close the gap in the seq column: the signed positions betray it."""
    path, _ = setup
    with db(path) as conn:
        gone = seq_of(conn, 4)
        conn.execute("DELETE FROM records WHERE seq = ?", (gone,))
        conn.execute("UPDATE records SET seq = -(seq - 1) WHERE seq > ?", (gone,))
        conn.execute("UPDATE records SET seq = -seq WHERE seq < 0")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 4 and result["problem"] == "reordered"


def test_inserted_forged_row(setup, ppe):
    """A row made up by hand, with a signature copied from another entry."""
    path, _ = setup
    with db(path) as conn:
        seq, ts, prev = conn.execute("SELECT seq, ts, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        sig = conn.execute("SELECT sig FROM records WHERE number = 2").fetchone()[0]
        body = json.loads(conn.execute("SELECT body FROM records WHERE number = 2").fetchone()[0])
        body.update(seq=seq + 1, prev=bytes(prev).hex(), number=9, action="Извлечение карты памяти")
        raw = canonical.encode(body)
        conn.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                     (seq + 1, "entry", 9, body["ts"], raw, sig, hashlib.sha256(raw).digest()))
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 9 and result["problem"] == "signature"


def test_inserted_in_the_middle_with_a_stolen_key(setup, ppe):
    """Even with the station's key, a record inserted mid-chain breaks the next one."""
    path, made = setup
    station = made["station"]
    with db(path) as conn:
        at = seq_of(conn, 5)
        prev = conn.execute("SELECT hash FROM records WHERE seq = ?", (at - 1,)).fetchone()[0]
        journal_id = json.loads(conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()[0])["journal"]
        ts = conn.execute("SELECT ts FROM records WHERE seq = ?", (at - 1,)).fetchone()[0]
        conn.execute("UPDATE records SET seq = -(seq + 1), number = -(number + 1) WHERE seq >= ?", (at,))
        conn.execute("UPDATE records SET seq = -seq WHERE seq < 0")
        conn.execute("UPDATE records SET number = -number WHERE number < 0")
        body = {"v": 1, "kind": "entry", "seq": at, "prev": bytes(prev).hex(), "ts": ts, "journal": journal_id,
                "number": 5, "date": "2026-06-01", "room": "0101", "start": "08:00", "end": None,
                "action": "Отключение средства видеозаписи", "by": station.key_id}
        raw = canonical.encode(body)
        sig = made["signers"][station.key_id].sign(raw)
        conn.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                     (at, "entry", 5, ts, raw, sig, hashlib.sha256(raw).digest()))
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 6 and result["problem"] == "reordered"


def test_reordered_rows(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        a, b = seq_of(conn, 2), seq_of(conn, 3)
        row_a = conn.execute("SELECT kind, number, ts, body, sig, hash FROM records WHERE seq = ?", (a,)).fetchone()
        row_b = conn.execute("SELECT kind, number, ts, body, sig, hash FROM records WHERE seq = ?", (b,)).fetchone()
        conn.execute("UPDATE records SET number = NULL WHERE seq IN (?, ?)", (a, b))
        for seq, row in ((a, row_b), (b, row_a)):
            conn.execute("UPDATE records SET kind=?, number=?, ts=?, body=?, sig=?, hash=? WHERE seq=?", (*row, seq))
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 2 and result["problem"] == "reordered"


def test_swapped_signatures(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        s2 = conn.execute("SELECT sig FROM records WHERE number = 2").fetchone()[0]
        s7 = conn.execute("SELECT sig FROM records WHERE number = 7").fetchone()[0]
        conn.execute("UPDATE records SET sig = ? WHERE number = 2", (s7,))
        conn.execute("UPDATE records SET sig = ? WHERE number = 7", (s2,))
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 2 and result["problem"] == "signature"


def test_removed_confirmation(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        last = conn.execute("SELECT max(seq) FROM records WHERE kind = 'confirm'").fetchone()[0]
        first = conn.execute("SELECT min(seq) FROM records WHERE kind = 'confirm'").fetchone()[0]
        assert last != first
        conn.execute("DELETE FROM records WHERE seq = ?", (first,))
    code, result = verify(ppe)
    assert code == 1 and result["problem"] == "removed" and result["first_bad"] == 5


def _append_raw(path, made, signer, key_id, **fields):
    """Append a well-formed entry by hand, as an intruder with write access and a key would."""
    with db(path) as conn:
        seq, ts, prev = conn.execute("SELECT seq, ts, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        number = conn.execute("SELECT max(number) FROM records").fetchone()[0] + 1
        journal_id = json.loads(conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()[0])["journal"]
        body = {"v": 1, "kind": "entry", "seq": seq + 1, "prev": bytes(prev).hex(), "ts": ts, "journal": journal_id,
                "number": number, "date": "2026-06-01", "room": "0101", "start": "11:00", "end": None,
                "action": "Извлечение карты памяти", "by": key_id, **fields}
        raw = canonical.encode(body)
        conn.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?)",
                     (seq + 1, "entry", number, ts, raw, signer.sign(raw), hashlib.sha256(raw).digest()))
    return number


def test_unknown_key(setup, ppe):
    path, made = setup
    stranger = Ed25519Signer.generate()
    number = _append_raw(path, made, stranger, "0123456789abcdef")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == number and result["problem"] == "unknown_key"


def test_revoked_key(setup, ppe):
    path, made = setup
    station = made["station"]
    with Journal.open(path) as j:
        j.revoke(station.key_id, station.key_id, made["signers"][station.key_id], "станция заменена")
    assert verify(ppe)[0] == 0
    number = _append_raw(path, made, made["signers"][station.key_id], station.key_id)
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == number and result["problem"] == "revoked_key"


def test_truncated_tail_against_checkpoint(setup, ppe, home):
    path, made = setup
    head = made["head"]
    with Journal.open(path) as j:
        doc = j.checkpoint(head, made["signers"][head.key_id])
    (home / "cp.json").write_bytes(checkpoint.dumps(doc))
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE number >= 7 OR seq > (SELECT seq FROM records WHERE number = 6)")
    code, result = verify(ppe)  # the copy of the checkpoint kept in the journal catches it
    assert code == 1 and result["problem"] == "truncated" and result["first_bad"] == 7
    with db(path) as conn:
        conn.execute("DELETE FROM checkpoints")  # a careful intruder removes that copy too
    assert verify(ppe)[0] == 0  # without a witness, a clean truncation is invisible...
    code, result = verify(ppe, "--checkpoint", home / "cp.json")  # ...but not to the one kept off the machine
    assert code == 1 and result["problem"] == "truncated" and result["first_bad"] == 7
    assert "states" in result["reason"]


def test_rollback_against_checkpoint(setup, ppe, home):
    path, made = setup
    head, spec = made["head"], made["specialist"]
    with Journal.open(path) as j:
        doc = j.checkpoint(head, made["signers"][head.key_id])
    (home / "cp.json").write_bytes(checkpoint.dumps(doc))
    backup = home / "old.sqlite"
    shutil.copy(path, backup)
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE seq > (SELECT seq FROM records WHERE number = 6)")
        conn.execute("DELETE FROM checkpoints")
    with Journal.open(path, clock=made["clock"]) as j:  # history rewritten with valid signatures
        for n in range(3):
            j.add(date="2026-06-01", room="0101", start="12:00", end=None, action=f"Подмена {n}",
                  by=spec.key_id, signer=made["signers"][spec.key_id])
    assert verify(ppe)[0] == 0
    code, result = verify(ppe, "--checkpoint", home / "cp.json")
    assert code == 1 and result["problem"] == "rewritten"


def test_checkpoint_file_edited_is_rejected(setup, ppe, home):
    path, made = setup
    head = made["head"]
    with Journal.open(path) as j:
        doc = j.checkpoint(head, made["signers"][head.key_id])
    doc["records"] -= 3
    (home / "cp.json").write_bytes(checkpoint.dumps(doc))
    r = ppe("journal", "verify", "--checkpoint", home / "cp.json")
    assert r.code == 1 and "signature is invalid" in r.err  # tampering found, a negative result


def test_unsigned_paper_statement_is_a_witness(setup, ppe, home):
    path, _ = setup
    with Journal.open(path) as j:
        statement = checkpoint.statement(j.state().head())
    (home / "qr.json").write_text(json.dumps(statement), encoding="utf-8")
    assert verify(ppe, "--checkpoint", home / "qr.json")[0] == 0
    with db(path) as conn:
        conn.execute("DELETE FROM records WHERE seq = (SELECT max(seq) FROM records)")
        conn.execute("DELETE FROM checkpoints")
    code, result = verify(ppe, "--checkpoint", home / "qr.json")
    assert code == 1 and result["problem"] == "truncated"


def test_wrong_column_types_do_not_crash(setup, ppe):
    path, _ = setup
    with db(path) as conn:
        conn.execute("UPDATE records SET sig = 'not a signature' WHERE number = 3")
    code, result = verify(ppe)
    assert code == 1 and result["first_bad"] == 3


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pristine")
    build_journal(folder / "journal.sqlite", folder / "keys", 12, confirm_every=5)
    with sqlite3.connect(folder / "journal.sqlite") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return folder / "journal.sqlite"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_flipped_bit_is_caught(pristine, tmp_path, data):
    """Flip one bit anywhere in any stored column of any record: verify always fails."""
    # a folder of its own per example: examples share tmp_path, and a copy made over an earlier
    # example's file would meet that file's leftover -wal, which SQLite replays over the flip
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "journal.sqlite"
    shutil.copy(pristine, path)
    with db(path) as conn:
        count = conn.execute("SELECT max(seq) FROM records").fetchone()[0]
        seq = data.draw(st.integers(1, count), label="record")
        column = data.draw(st.sampled_from(["body", "sig", "hash"]), label="column")
        value = conn.execute(f"SELECT {column} FROM records WHERE seq = ?", (seq,)).fetchone()[0]
        if value is None:  # genesis and key records carry no record signature: flip the body instead
            column = "body"
            value = conn.execute("SELECT body FROM records WHERE seq = ?", (seq,)).fetchone()[0]
        raw = bytearray(value)
        bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
        raw[bit // 8] ^= 1 << (bit % 8)
        conn.execute(f"UPDATE records SET {column} = ? WHERE seq = ?", (bytes(raw), seq))
    with Journal.open(path, readonly=True) as j:
        replay, problem = j.verify()
    assert problem is not None
    assert problem.first_bad is not None and 1 <= problem.first_bad <= 13


@pytest.fixture(scope="module")
def larger(tmp_path_factory):
    """More records than one batch of the verifying threads (SIG_BATCH)."""
    folder = tmp_path_factory.mktemp("larger")
    build_journal(folder / "journal.sqlite", folder / "keys", 2600, confirm_every=100)
    return folder / "journal.sqlite"


def _sequential_and_threaded(path):
    from journal import chain

    with Journal.open(path, readonly=True) as j:
        one = chain.Replay().run(j.store.raw_rows())
        many = chain.replay(j.store.raw_rows, threads=3)
    return one, many


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_threaded_verification_reports_what_a_sequential_pass_reports(larger, tmp_path, data):
    """Signatures checked by threads beside the rest: the same state and the same first problem,
    also when a bad signature comes before a later structural break."""
    path = tmp_path / f"j{data.draw(st.integers(0, 10**9))}.sqlite"
    shutil.copy(larger, path)
    with db(path) as conn:
        count = conn.execute("SELECT max(seq) FROM records").fetchone()[0]
        for _ in range(data.draw(st.integers(0, 2), label="edits")):
            seq = data.draw(st.integers(1, count), label="record")
            column = data.draw(st.sampled_from(["sig", "body"]), label="column")
            value = conn.execute(f"SELECT {column} FROM records WHERE seq = ?", (seq,)).fetchone()[0]
            if value is None:
                continue
            raw = bytearray(value)
            raw[data.draw(st.integers(0, len(raw) - 1), label="byte")] ^= 0x20
            conn.execute(f"UPDATE records SET {column} = ? WHERE seq = ?", (bytes(raw), seq))
    one, many = _sequential_and_threaded(path)
    assert many.problem == one.problem
    assert many.hashes == one.hashes and many.state == one.state


def test_confirmation_with_an_impossible_range_names_a_real_entry(setup, ppe):
    """A bit flipped in a confirmation's "from" (1 -> 0) once gave first_bad 0 (found by the property test)."""
    path, _ = setup
    with db(path) as conn:
        seq, body = conn.execute("SELECT seq, body FROM records WHERE kind = 'confirm' ORDER BY seq LIMIT 1").fetchone()
        conn.execute("UPDATE records SET body = ? WHERE seq = ?", (body.replace(b'"from":1,', b'"from":0,'), seq))
    code, result = verify(ppe)
    assert code == 1 and result["problem"] == "signature" and result["first_bad"] == 5  # after entries 1-4
