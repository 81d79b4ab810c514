"""The regional centre on a real PostgreSQL server: a throwaway cluster that the tests start
themselves (Debian's package, a temp folder, a Unix socket), one fresh database per test."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from journal import pgstore, region
from journal.journal import Journal
from journal.localpg import LocalPostgres, bin_dir
from conftest import toml_str, skip_under_wine, host_tool, PASSPHRASE, build_journal

pytestmark = [skip_under_wine("the PostgreSQL server (initdb, postgres)"),
              pytest.mark.skipif(bin_dir() is None, reason="PostgreSQL server not installed (make test installs it)")]


@pytest.fixture(scope="session")
def server():
    with LocalPostgres() as pg:
        yield pg


@pytest.fixture
def db(server):
    """A fresh database with the ppe-tech schema; its superuser URL."""
    name = "t_" + uuid.uuid4().hex[:12]
    server.sql(f"CREATE DATABASE {name}")
    url = server.url_for("postgres", name)
    pgstore.init(url)
    return url


def sql(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def tamper(url: str, statement: str, params: tuple = ()) -> None:
    """What a database administrator could do: switch the triggers off and edit rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def local_journal(home: Path, entries: int, *, ppe_code: str = "0123", confirm_every: int = 5):
    """A ППЭ's SQLite journal with a stored checkpoint; (path, made)."""
    path = home / f"journal-{ppe_code}.sqlite"
    made = build_journal(path, home / f"keys-{ppe_code}", entries, confirm_every=confirm_every, ppe=ppe_code)
    head = made["head"]
    with Journal.open(path) as j:
        j.checkpoint(head, made["signers"][head.key_id])
    return path, made


def config(home: Path, journal_path: Path | str, url: str | None = None) -> Path:
    text = f'[ppe]\nregion = "77"\ncode = "0123"\n[journal]\npath = {toml_str(journal_path)}\n'
    if url:
        text += f'[region]\ndb = "{url}"\n'
    path = home / "ppe-tech.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_with_past_exam(home: Path, journal_path: Path, url: str, duration: str) -> Path:
    """The config of `config()`, in Moscow time, with an exam "math" that started 5 hours ago."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    start = (datetime.now(ZoneInfo("Europe/Moscow")) - timedelta(hours=5)).replace(second=0, microsecond=0)
    path = config(home, journal_path, url)
    text = path.read_text(encoding="utf-8").replace('code = "0123"\n', 'code = "0123"\ntimezone = "Europe/Moscow"\n')
    path.write_text(text + f'[[exams]]\nid = "math"\nstart = "{start:%Y-%m-%dT%H:%M}"\nduration = "{duration}"\n',
                    encoding="utf-8")
    return path


def held(url: str, ppe_code: str = "0123") -> int:
    return sql(url, "SELECT count(*) FROM ppe_tech.records WHERE region = '77' AND ppe = %s", (ppe_code,))[0][0]


def test_push_resend_and_region_verify(home, ppe, db, monkeypatch):
    path, made = local_journal(home, 20)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path)))
    r = ppe("journal", "push", "--to", db, "--json")
    assert r.code == 0, r.err
    sent = r.json["sent"]
    # genesis + 3 keys + 20 entries + 4 confirmations
    assert sent == {"records": 28, "entries": 20, "confirmations": 4, "checkpoints": 1}
    assert r.json["held_before"] == 0 and r.json["held_after"] == 28 == held(db)

    r = ppe("journal", "push", "--to", db, "--json")  # resend: nothing new, nothing doubled
    assert r.code == 0 and r.json["sent"] == {"records": 0, "entries": 0, "confirmations": 0, "checkpoints": 0}
    assert held(db) == 28 and sql(db, "SELECT count(*) FROM ppe_tech.checkpoints")[0][0] == 1
    assert "Nothing new" in ppe("journal", "push", "--to", db).out

    spec = made["specialist"]
    with Journal.open(path, clock=made["clock"]) as j:
        for n in range(3):
            j.add(date="2026-06-02", room="0101", start="09:00", end=None, action=f"Начало записи {n}",
                  by=spec.key_id, signer=made["signers"][spec.key_id])
    r = ppe("journal", "push", "--to", db, "--json")
    assert r.code == 0 and r.json["sent"]["entries"] == 3 and r.json["held_before"] == 28

    r = ppe("region", "verify", "--db", db, "--json")
    assert r.code == 0, r.out + r.err
    (only,) = r.json["ppe"]
    assert (only["region"], only["ppe"], only["ok"]) == ("77", "0123", True)
    assert only["entries"] == 23 and only["confirmed"] == 20 and only["confirmed_percent"] == 87
    assert only["last_checkpoint"]["records"] == 28 and only["last_checkpoint"]["by"] == made["head"].name
    with Journal.open(path) as j:
        assert only["journal"] == j.state().journal_id


def test_interrupted_push_resumes(home, ppe, db, server, monkeypatch):
    path, _made = local_journal(home, 300, confirm_every=0)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path, db)))
    batches = []

    def cut_connection(n: int) -> None:  # the server drops the pusher's connection after two batches
        batches.append(n)
        if len(batches) == 2:
            sql(db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ppe-tech'")
    with Journal.open(path, readonly=True) as j, pytest.raises(Exception) as failed:
        region.push(j, db, batch=50, progress=cut_connection)
    assert failed.value.exit_code == 3 and len(failed.value.message.splitlines()) == 1  # type: ignore[attr-defined]
    assert held(db) == 100  # two whole batches; the third rolled back with the connection
    r = ppe("journal", "push", "--batch", "50", "--json")  # the URL from [region] db
    assert r.code == 0, r.err
    assert r.json["held_before"] == 100 and r.json["sent"]["records"] == 304 - 100 and held(db) == 304
    assert ppe("region", "verify", "--json").code == 0


def test_forked_and_rolled_back_history_is_refused(home, ppe, db, monkeypatch):
    path, made = local_journal(home, 12)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path, db)))
    backup = home / "before.sqlite"
    shutil.copy(path, backup)
    spec = made["specialist"]
    with Journal.open(path, clock=made["clock"]) as j:
        j.add(date="2026-06-01", room="0101", start="12:00", end=None, action="Корректировка ракурса",
              by=spec.key_id, signer=made["signers"][spec.key_id])
    assert ppe("journal", "push").code == 0
    size = held(db)

    shutil.copy(backup, path)  # rolled back to before entry 13
    r = ppe("journal", "push", "--json")
    assert r.code == 1 and "rolled back" in r.err and len(r.err_lines()) == 1
    with Journal.open(path, clock=made["clock"]) as j:  # ...and a different entry 13, validly signed: a fork
        j.add(date="2026-06-01", room="0101", start="12:00", end=None, action="Подмена",
              by=spec.key_id, signer=made["signers"][spec.key_id])
    r = ppe("journal", "push")
    assert r.code == 1 and "entry 13" in r.err and "rewritten or forked" in r.err, r.err
    assert held(db) == size

    with closing(sqlite3.connect(path)) as conn:  # rewriting an older entry is named at that entry
        first_entry7 = conn.execute("SELECT seq FROM records WHERE number = 7").fetchone()[0]
    with Journal.open(path) as j:
        rows = list(j.store.rows())
    forged = rows[first_entry7 - 1]
    # the database refuses the fork too, whoever sends it: a different record at a position held...
    import psycopg

    body = forged.body.replace("работоспособности 7".encode(), "работоспособности 8".encode())
    assert body != forged.body
    with pytest.raises(psycopg.Error) as refused:
        sql(db, "INSERT INTO ppe_tech.records (region, ppe, seq, kind, number, ts, body, sig, hash) "
                "VALUES ('77', '0123', %s, 'entry', 7, %s, %s, %s, %s)",
            (forged.seq, forged.ts, body, forged.sig, hashlib.sha256(body).digest()))
    assert refused.value.sqlstate == pgstore.FORK
    sql(db, "INSERT INTO ppe_tech.records (region, ppe, seq, kind, number, ts, body, sig, hash) "
            "VALUES ('77', '0123', %s, 'entry', 7, %s, %s, %s, %s)",
        (forged.seq, forged.ts, forged.body, forged.sig, forged.hash))  # the same record again: skipped
    # ...and a next record that does not link to the last one held
    last = rows[-1]
    with pytest.raises(psycopg.Error) as refused:
        sql(db, "INSERT INTO ppe_tech.records (region, ppe, seq, kind, number, ts, body, sig, hash) "
                "VALUES ('77', '0123', %s, %s, %s, %s, %s, %s, %s)",
            (size + 1, last.kind, last.number, last.ts, last.body, last.sig, last.hash))
    assert refused.value.sqlstate in (pgstore.FORK, pgstore.BAD_RECORD)
    assert held(db) == size


def test_tampered_rows_in_postgres_are_found(home, ppe, db, monkeypatch):
    path, _made = local_journal(home, 10)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path, db)))
    assert ppe("journal", "push").code == 0
    import psycopg

    with pytest.raises(psycopg.Error) as refused:  # the triggers refuse edits, even to the superuser
        sql(db, "UPDATE ppe_tech.records SET ts = ts WHERE seq = 5")
    assert refused.value.sqlstate == pgstore.APPEND_ONLY
    with pytest.raises(psycopg.Error):
        sql(db, "DELETE FROM ppe_tech.records WHERE seq = 5")
    assert ppe("region", "verify").code == 0

    tamper(db, "UPDATE ppe_tech.records SET body = convert_to(replace(convert_from(body, 'UTF8'), "
               "'Проверка работоспособности 4', 'Проверка работоспособности 44'), 'UTF8') WHERE number = 4")
    r = ppe("region", "verify", "--json")
    assert r.code == 1 and r.json["failing"] == 1
    (bad,) = r.json["ppe"]
    assert bad["ok"] is False and bad["problems"][0]["first_bad"] == 4
    r = ppe("region", "verify", "--pdf", home / "svodka.pdf")
    assert r.code == 1 and "TAMPERING FOUND at entry 4" in r.out
    text = subprocess.run([host_tool("pdftotext"), "-layout", str(home / "svodka.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Сводка проверки журналов" in text and "77/0123" in text and "НАРУШЕНА ЦЕЛОСТНОСТЬ" in text
    assert "запись № 4" in text and "подпись" in text.lower()


def test_roles_have_no_update_or_delete(home, ppe, db, server, monkeypatch):
    import psycopg

    server.sql("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ppe_0123') THEN "
               "CREATE ROLE ppe_0123 LOGIN; END IF; IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gek_77') "
               "THEN CREATE ROLE gek_77 LOGIN; END IF; END $$")
    database = db.split("/")[-1].split("?")[0]
    r = ppe("region", "init", "--db", db, "--grant", "ppe_0123=77/0123", "--grant-read", "gek_77", "--json")
    assert r.code == 0 and r.json["created"] is False, r.err  # the fixture made it: safe to run again
    assert r.json["writers"] == [{"role": "ppe_0123", "ppe": "77/0123"}]
    assert ppe("region", "init", "--db", db, "--grant", "ppe_0123=77").code == 2  # not REGION/PPE
    r = ppe("region", "init", "--db", db, "--grant", "nobody_here=77/0123")
    assert r.code == 2 and "no such role" in r.err
    writer, reader = server.url_for("ppe_0123", database), server.url_for("gek_77", database)
    path, _made = local_journal(home, 5)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path)))
    assert ppe("journal", "push", "--to", writer).code == 0
    assert sql(writer, "SELECT count(*) FROM ppe_tech.records")[0][0] == held(db) > 0
    for statement in ("UPDATE ppe_tech.records SET ts = ts", "DELETE FROM ppe_tech.records",
                      "TRUNCATE ppe_tech.records", "UPDATE ppe_tech.checkpoints SET doc = doc",
                      "DELETE FROM ppe_tech.checkpoints"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            sql(writer, statement)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(reader, "INSERT INTO ppe_tech.meta VALUES ('x', 'y')")
    other, _made = local_journal(home, 2, ppe_code="0124")  # another ППЭ's journal, through ППЭ 0123's role
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, other)))
    r = ppe("journal", "push", "--to", writer)
    assert r.code == 3 and "may not write the journal of ППЭ 77/0124" in r.err and len(r.err_lines()) == 1, r.err
    assert sql(db, "SELECT count(*) FROM ppe_tech.records WHERE ppe = '0124'")[0][0] == 0
    r = ppe("journal", "push", "--to", reader)  # the commission's role reads only
    assert r.code == 3 and "may not write" in r.err
    assert ppe("region", "verify", "--db", reader).code == 0


def test_journal_kept_in_postgres(home, ppe, db, monkeypatch):
    """`[journal] path = "postgresql://…"`: the same commands, the same verification."""
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, db)))
    r = ppe("keys", "create", "--name", "Иванов Иван Иванович", "--position", "технический специалист", "--json")
    assert r.code == 0, r.err
    spec = r.json["key_id"]
    r = ppe("keys", "create", "--name", "Петров Алексей Андреевич", "--position", "руководитель ППЭ", "--json")
    head = r.json["key_id"]
    for n in range(1, 6):
        assert ppe("journal", "add", "--room", "0101", "--action", f"Начало записи {n}", "--key", spec).code == 0
    assert ppe("journal", "confirm", "--key", head, "--yes").code == 0
    assert ppe("journal", "checkpoint", "--key", head, "--out", home / "cp.json").code == 0
    r = ppe("journal", "verify", "--checkpoint", home / "cp.json", "--json")
    assert r.code == 0 and r.json["entries"] == 5 and r.json["confirmed"] == 5, r.out + r.err
    assert len(ppe("journal", "list", "--json").json["entries"]) == 5
    assert ppe("journal", "print", "--out", home / "j.pdf").code == 0
    assert ppe("region", "verify", "--db", db).code == 0

    from ppe_tech.errors import EnvironmentFailure
    with Journal.open(db, readonly=True, region="77", ppe="0123") as j, pytest.raises(EnvironmentFailure) as refused:
        with j.store.transaction() as tx:  # readers' sessions are read-only
            tx.add_checkpoint(1, b"{}")
    assert "read-only" in refused.value.message

    tamper(db, "DELETE FROM ppe_tech.records WHERE number = 5")  # the last entry removed
    r = ppe("journal", "verify", "--checkpoint", home / "cp.json", "--json")
    assert r.code == 1 and r.json["problem"] in ("removed", "truncated", "inserted"), r.out


def test_bad_input_and_unreachable_database(home, ppe, server, monkeypatch):
    path, _made = local_journal(home, 2)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path)))
    r = ppe("journal", "push")
    assert r.code == 2 and "--to" in r.err and len(r.err_lines()) == 1
    r = ppe("journal", "push", "--to", "https://example.org/db")
    assert r.code == 2 and "postgresql://" in r.err
    r = ppe("journal", "push", "--to", "postgresql://ppe:s3cret@127.0.0.1:1/journals")
    assert r.code == 3 and "s3cret" not in r.err and "***" in r.err, r.err
    # the password on ppe-tech's own command line is readable by every local user: said, once
    warning, error = r.err_lines()
    assert "visible to other users" in warning and "PGPASSWORD" in warning and "--to" in warning, r.err
    assert "***" in error
    server.sql("CREATE DATABASE t_empty_schema")
    empty = server.url_for("postgres", "t_empty_schema")
    r = ppe("region", "verify", "--db", empty)
    assert r.code == 3 and "region init" in r.err
    assert ("visible to other users" in r.err) == (":" in empty.split("//", 1)[1].split("@")[0])
    r = ppe("region", "verify", "--db", empty, "--region", "7x")
    assert r.code == 2 and "--region" in r.err
    assert PASSPHRASE not in r.err


def test_region_of_many_ppe_in_parallel_and_by_region(home, ppe, db, monkeypatch):
    for code in ("0123", "0124", "0125"):
        path, _made = local_journal(home, 8, ppe_code=code)
        with Journal.open(path, readonly=True) as j:
            assert region.push(j, db).records == 8 + 4 + 1
    other = home / "journal-50.sqlite"  # a ППЭ of another region
    build_journal(other, home / "keys-50", 3, region="50", ppe="0001")
    with Journal.open(other, readonly=True) as j:
        region.push(j, db)
    tamper(db, "DELETE FROM ppe_tech.records WHERE ppe = '0124' AND number = 3")
    monkeypatch.setattr(region, "PARALLEL_FROM", 0)  # the process pool, even for this small region
    together = region.verify(db, jobs=2)
    alone = region.verify(db, jobs=1)
    assert [r.as_json() for r in together] == [r.as_json() for r in alone]
    assert [(r.region, r.ppe, r.ok) for r in together] == [("50", "0001", True), ("77", "0123", True),
                                                           ("77", "0124", False), ("77", "0125", True)]
    assert together[2].problems[0].first_bad == 3 and together[2].records == 12
    r = ppe("region", "verify", "--db", db, "--region", "50", "--json")
    assert r.code == 0 and [p["ppe"] for p in r.json["ppe"]] == ["0001"]
    r = ppe("region", "verify", "--db", db, "--region", "77", "--jobs", "2", "--json")
    assert r.code == 1 and r.json["failing"] == 1 and len(r.json["ppe"]) == 3
    assert ppe("region", "verify", "--db", db, "--region", "01").code == 1  # no journals: not a pass


def test_checkpoint_accepted_only_if_it_extends_the_previous(home, ppe, db, monkeypatch):
    import psycopg

    from journal import checkpoint

    path, made = local_journal(home, 6)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config(home, path, db)))
    head, spec = made["head"], made["specialist"]
    with Journal.open(path, clock=made["clock"]) as j:
        older = j.store.checkpoints()[0]
        j.add(date="2026-06-01", room="0101", start="12:00", end=None, action="Начало записи",
              by=spec.key_id, signer=made["signers"][spec.key_id])
        newer = checkpoint.dumps(j.checkpoint(head, made["signers"][head.key_id]))
    assert ppe("journal", "push").code == 0
    assert sql(db, "SELECT records FROM ppe_tech.checkpoints ORDER BY id") == [(11,), (12,)]

    def insert(doc: bytes) -> None:
        doc_json = checkpoint.parse(doc, "test")
        sql(db, "INSERT INTO ppe_tech.checkpoints (region, ppe, records, digest, doc) "
                "VALUES ('77', '0123', %s, sha256(%s), %s)", (doc_json["records"], doc, doc))
    insert(older)  # resent: skipped, not refused
    insert(newer)
    assert sql(db, "SELECT count(*) FROM ppe_tech.checkpoints")[0][0] == 2
    with Journal.open(path) as j:  # a checkpoint of an older size, made anew: it does not extend the last
        replay, _problem = j.verify()
    stale = checkpoint.statement(replay.state.head())
    stale.update({"records": 11, "entries": 6, "head": replay.hashes[10].hex(), "ts": "2026-06-01T09:00:00+00:00"})
    doc = checkpoint.dumps(stale)
    with pytest.raises(psycopg.Error) as refused:
        insert(doc)
    assert refused.value.sqlstate == pgstore.BAD_CHECKPOINT and "does not extend" in str(refused.value)
    stale.update({"records": 12, "head": "00" * 32})  # a head the region never received: a fork
    with pytest.raises(psycopg.Error) as refused:
        insert(checkpoint.dumps(stale))
    assert refused.value.sqlstate == pgstore.FORK
    stale.update({"records": 99})  # past what the region holds
    with pytest.raises(psycopg.Error) as refused:
        insert(checkpoint.dumps(stale))
    assert refused.value.sqlstate == pgstore.BAD_CHECKPOINT


def test_two_pushes_at_once_send_each_record_once(home, db):
    import threading

    path, _made = local_journal(home, 400, confirm_every=0)
    results, errors = [], []

    def push() -> None:
        try:
            with Journal.open(path, readonly=True) as j:
                results.append(region.push(j, db, batch=40))
        except Exception as exc:  # noqa: BLE001 -- reported below
            errors.append(exc)
    pushers = [threading.Thread(target=push) for _ in range(2)]
    for t in pushers:
        t.start()
    for t in pushers:
        t.join()
    assert not errors, errors
    assert held(db) == 404 and sum(r.records for r in results) == 404
    assert sum(r.entries for r in results) == 400
    assert all(r.ok for r in region.verify(db))


def test_exam_plan_and_status_show_the_push(home, ppe, db, monkeypatch):
    path, _made = local_journal(home, 4)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config_with_past_exam(home, path, db, "3h55m")))
    step = lambda r: next(s for s in r.json["steps"] if s["step"] == "region")  # noqa: E731
    assert step(ppe("exam", "plan", "--json"))["state"] in ("next", "later")
    assert "not sent yet" in ppe("exam", "status").out
    assert ppe("journal", "push").code == 0
    r = ppe("exam", "plan", "--json")
    assert step(r)["state"] == "done" and step(r)["note"].startswith(f"records: {held(db)},")
    r = ppe("exam", "status", "--json")
    assert r.json["region"]["held"] == held(db) and "***" not in r.out
    r = ppe("--lang", "ru", "exam", "plan")
    assert "журнал в региональный центр" in r.out and "проверка перед экзаменом" in r.out


def test_schedule_due_pushes_after_the_exam_once(home, ppe, db, monkeypatch):
    path, _made = local_journal(home, 3)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config_with_past_exam(home, path, db, "4h")))
    r = ppe("schedule", "due", "--exam", "math", "--json")  # the check was missed (exit 1); the push is made
    assert r.code == 1 and r.json["exams"][0]["push"] == f"records sent: {held(db)}", r.out + r.err
    r = ppe("schedule", "due", "--exam", "math", "--json")
    assert r.json["exams"][0]["push"] == "sent already" and held(db) == 1 + 3 + 3  # genesis, keys, entries
