"""SQLite storage of the journal: the only code that writes its tables.

One file, WAL, `synchronous=FULL`; every append is one `BEGIN IMMEDIATE`
transaction that reads the head and inserts the next record, so processes appending
at once are serialised by SQLite and never fork the chain or reuse a number. The
file is recognised by its application id; any other file is refused untouched.

Every SQLite error becomes one of ours, naming the file (`translate`): a damaged file
(exit 1, like any failed verification), a full disk, a read-only file or folder, a lock
held too long (exit 3). `check_file` is SQLite's own check of the file's pages.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ppe_tech.errors import BadInput, EnvironmentFailure, ExitCode, PpeError
from ppe_tech.messages import _

APPLICATION_ID = 0x50504554  # "PPET"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE records(
    seq    INTEGER PRIMARY KEY,      -- position in the chain, 1, 2, 3, ...
    kind   TEXT NOT NULL,            -- genesis | key | revoke | entry | confirm
    number INTEGER UNIQUE,           -- № п/п of a journal entry (entries only)
    ts     TEXT NOT NULL,            -- UTC time of the record, never decreasing
    body   BLOB NOT NULL,            -- canonical JSON: what is hashed and signed
    sig    BLOB,                     -- signature over body (null for genesis and key records)
    hash   BLOB NOT NULL             -- SHA-256 of body, the next record's "prev"
);
CREATE INDEX records_kind ON records(kind, seq);
CREATE TABLE checkpoints(
    id     INTEGER PRIMARY KEY,
    seq    INTEGER NOT NULL,
    doc    BLOB NOT NULL             -- the signed checkpoint as written to its file
);
CREATE VIEW journal_entries AS
    SELECT number,
           json_extract(body, '$.date')   AS date,
           json_extract(body, '$.room')   AS room,
           json_extract(body, '$.start')  AS start,
           json_extract(body, '$.end')    AS "end",
           json_extract(body, '$.action') AS action,
           json_extract(body, '$.by')     AS key_id,
           ts
    FROM records WHERE kind = 'entry' ORDER BY number;
"""


_COLUMNS = "seq, kind, number, ts, body, sig, hash"
_HEADER = b"SQLite format 3\x00"


class JournalDamaged(PpeError):
    """The journal's file itself is damaged (pages overwritten, truncated): a failed verification."""

    exit_code = ExitCode.NEGATIVE


def damaged(path: Path, what: str) -> JournalDamaged:
    return JournalDamaged(_("the journal file {path} is damaged: {what}").format(path=path, what=what),
                          hint=_("restore it from a copy; `ppe-tech journal verify --full` names what is damaged"))


def translate(exc: sqlite3.Error, path: Path) -> PpeError:
    """An SQLite error as one of ours, naming the file and the cause."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    if code in (11, 26) or "malformed" in text or "not a database" in text:  # SQLITE_CORRUPT, SQLITE_NOTADB
        return damaged(path, text)
    if code in (10, 14):  # SQLITE_IOERR, SQLITE_CANTOPEN: SQLite does not say why; the file system does
        code = _file_system_cause(path) or code
    if code == 13 or "is full" in text:  # SQLITE_FULL
        return EnvironmentFailure(_("cannot write the journal {path}: the disk is full").format(path=path))
    if code == 8 or "readonly" in text:  # SQLITE_READONLY
        return EnvironmentFailure(_("cannot write the journal {path}: the file or its folder is read-only").format(
            path=path))
    if code in (5, 6) or "locked" in text:  # SQLITE_BUSY, SQLITE_LOCKED
        return EnvironmentFailure(_("the journal {path} is locked by another process: gave up after {s} s").format(
            path=path, s=BUSY_TIMEOUT_MS // 1000))
    return EnvironmentFailure(_("journal {path}: {error}").format(path=path, error=text))


def _file_system_cause(path: Path) -> int | None:
    """13 (full) or 8 (read-only) when the journal's file system is so; None when it is neither."""
    folder = Path(path).parent
    try:
        fs = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    if fs.f_flag & getattr(os, "ST_RDONLY", 1):
        return 8
    if fs.f_bavail * fs.f_frsize < (1 << 20) or fs.f_favail == 0:
        return 13
    if not os.access(folder, os.W_OK) or (Path(path).exists() and not os.access(path, os.W_OK)):
        return 8
    return None


def _looks_like_ours(path: Path) -> bool:
    """The first page's header says SQLite and our application id (offset 68), whatever follows."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError:
        return False
    return len(header) >= 72 and header.startswith(_HEADER) and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def waiting_notice(message: str) -> None:
    """Where the wait for another process's lock is announced (stderr; tests may replace it)."""
    import sys

    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Row:
    seq: int
    kind: str
    number: int | None
    ts: str
    body: bytes
    sig: bytes | None
    hash: bytes

    @classmethod
    def of(cls, r: tuple | None) -> "Row | None":
        if r is None:
            return None
        return cls(r[0], r[1], r[2], r[3], bytes(r[4]), None if r[5] is None else bytes(r[5]), bytes(r[6]))


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open `path`. Read-only opens never write; on read-only media (no room for the WAL's
    shared-memory file) they fall back to SQLite's immutable mode."""
    timeout = BUSY_TIMEOUT_MS / 1000
    try:
        if not readonly:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=timeout)
        else:
            uri = path.resolve().as_uri()
            try:
                conn = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None, timeout=timeout)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                conn = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None, timeout=timeout)
    except sqlite3.OperationalError as exc:
        raise EnvironmentFailure(_("cannot open journal {path}: {error}").format(path=path, error=exc)) from None
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class Store:
    """An open journal file."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool = False, durable: bool = True, readonly: bool = False) -> "Store":
        """Open the journal at `path`.

        `readonly` is for readers (verify, list, print): it never writes, and works on a
        copy on read-only media. `durable=False` (no fsync) is for building test fixtures.
        """
        path = Path(path)
        if path.is_dir():
            raise BadInput(_("journal path {path} is a folder, expected a journal file").format(path=path))
        exists = path.exists()
        if not exists and not create:
            raise BadInput(_("no journal at {path} (it starts with the first `ppe-tech keys create`)").format(path=path))
        if exists and not os.access(path, os.R_OK):
            raise EnvironmentFailure(_("cannot read journal {path}: permission denied").format(path=path))
        if not exists:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = _connect(path, readonly and exists)
        except sqlite3.DatabaseError as exc:  # the probe of a read-only open read a file that is no database
            if _looks_like_ours(path):
                raise damaged(path, str(exc)) from None
            raise BadInput(_("{path} is not a ppe-tech journal ({error})").format(path=path, error=exc)) from None
        try:
            app_id, version, tables = cls._identity(conn)
            if app_id != APPLICATION_ID:
                if exists and (app_id != 0 or tables):
                    raise BadInput(_("{path} is not a ppe-tech journal").format(path=path))
                if not create:
                    raise BadInput(_("{path} is not a ppe-tech journal").format(path=path))
                cls._create(conn)
            elif version > SCHEMA_VERSION:
                raise BadInput(_("journal {path} was written by a newer ppe-tech (schema {v})").format(path=path, v=version))
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL" if durable else "PRAGMA synchronous = OFF")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if ("not a database" in str(exc) or "malformed" in str(exc)) and not _looks_like_ours(path):
                raise BadInput(_("{path} is not a ppe-tech journal ({error})").format(path=path, error=exc)) from None
            raise translate(exc, path) from None
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @staticmethod
    def _identity(conn: sqlite3.Connection) -> tuple[int, int, int]:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return app_id, version, tables

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:  # another process may have created it meanwhile
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------

    def check_file(self, full: bool = False) -> list[str]:
        """What SQLite finds wrong with the file's pages ([] when sound): `PRAGMA quick_check`,
        or the slower `integrity_check` (indexes against tables too) with `full`."""
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA integrity_check(20)" if full else "PRAGMA quick_check(20)")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    def rows(self, *, after_seq: int = 0) -> Iterator[Row]:
        for r in self.conn.execute(f"SELECT {_COLUMNS} FROM records WHERE seq > ? ORDER BY seq", (after_seq,)):
            yield Row.of(r)  # type: ignore[misc]

    def raw_rows(self) -> sqlite3.Cursor:
        """(seq, kind, number, ts, body, sig, hash) tuples in chain order; the fast path of verify."""
        return self.conn.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq")

    def row_at(self, seq: int) -> Row | None:
        return Row.of(self.conn.execute(f"SELECT {_COLUMNS} FROM records WHERE seq = ?", (seq,)).fetchone())

    def size(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]

    def checkpoints(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.conn.execute("SELECT doc FROM checkpoints ORDER BY id")]

    def key_bodies(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.conn.execute("SELECT body FROM records WHERE kind = 'key' ORDER BY seq")]

    # -- writing ---------------------------------------------------------------------

    def _begin(self) -> None:
        """BEGIN IMMEDIATE; when another process holds the lock, say so and how long it waits."""
        self.conn.execute("PRAGMA busy_timeout = 200")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        waiting_notice(_("The journal {path} is locked by another process; waiting up to {s} s…").format(
            path=self.path, s=BUSY_TIMEOUT_MS // 1000))
        self.conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def transaction(self) -> Iterator["Tx"]:
        """BEGIN IMMEDIATE ... COMMIT: the head read inside cannot change until commit."""
        try:
            self._begin()
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from None
        try:
            yield Tx(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise


class Tx:
    """Reads and the insert of one append, inside its transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def head(self) -> Row | None:
        return Row.of(self.conn.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq DESC LIMIT 1").fetchone())

    def first_body(self) -> bytes | None:
        r = self.conn.execute("SELECT body FROM records WHERE seq = 1").fetchone()
        return None if r is None else bytes(r[0])

    def last_number(self) -> int:
        r = self.conn.execute("SELECT max(number) FROM records").fetchone()
        return r[0] or 0

    def bodies(self, *kinds: str) -> list[bytes]:
        marks = ",".join("?" * len(kinds))
        return [bytes(r[0]) for r in self.conn.execute(
            f"SELECT body FROM records WHERE kind IN ({marks}) ORDER BY seq", kinds)]

    def last_body(self, kind: str) -> bytes | None:
        r = self.conn.execute("SELECT body FROM records WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)).fetchone()
        return None if r is None else bytes(r[0])

    def insert(self, seq: int, kind: str, number: int | None, ts: str, body: bytes, sig: bytes | None,
               digest: bytes) -> None:
        self.conn.execute("INSERT INTO records(seq, kind, number, ts, body, sig, hash) VALUES (?,?,?,?,?,?,?)",
                          (seq, kind, number, ts, body, sig, digest))

    def add_checkpoint(self, seq: int, doc: bytes) -> None:
        self.conn.execute("INSERT INTO checkpoints(seq, doc) VALUES (?, ?)", (seq, doc))
