"""PostgreSQL storage of journals: every ППЭ's chain in one database of the region.

The same records as the SQLite file (the signed bytes, their hash, the columns
derived from them), keyed by (region, ППЭ code, position). The database is the
region's witness, in the manner of Certificate Transparency:

- the application roles may only SELECT and INSERT (`region init` grants nothing
  else), and triggers refuse UPDATE, DELETE and TRUNCATE for everyone else too;
- an inserted record must extend the chain it names: next position, its `prev` the
  hash of the record before, its hash the SHA-256 of its body; a record already held
  is skipped when resent unchanged and refused as a fork when different;
- a checkpoint is accepted only if the record it names is held with the hash it
  states and it extends the previous checkpoint.

Signatures cannot be checked inside PostgreSQL; `region verify` replays every chain
with the same code as `journal verify`.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urlsplit

from journal.store import Row
from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.secrets import mask_url

SCHEMA = "ppe_tech"
SCHEMA_VERSION = 1
WRITER, READER = "ppe_tech_writer", "ppe_tech_reader"
_COLUMNS = "seq, kind, number, ts, body, sig, hash"

# SQLSTATEs of our triggers (class Z: implementation-defined)
FORK, BAD_RECORD, BAD_CHECKPOINT, APPEND_ONLY = "ZP001", "ZP002", "ZP003", "ZP004"

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.records (
    region   text   NOT NULL,           -- код субъекта РФ
    ppe      text   NOT NULL,           -- код ППЭ
    seq      bigint NOT NULL,           -- position in that ППЭ's chain, 1, 2, 3, ...
    kind     text   NOT NULL,           -- genesis | key | revoke | entry | confirm
    number   bigint,                    -- № п/п of a journal entry (entries only)
    ts       text   NOT NULL,           -- UTC time of the record, as signed
    body     bytea  NOT NULL,           -- canonical JSON: what is hashed and signed
    sig      bytea,                     -- signature over body
    hash     bytea  NOT NULL,           -- SHA-256 of body, the next record's "prev"
    received timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region, ppe, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS records_number ON {SCHEMA}.records (region, ppe, number)
    WHERE number IS NOT NULL;
-- keys, revocations and confirmations, found without reading the entries; partial, so the
-- planner never takes it for the lookups by position (the primary key's), even before
-- the table has statistics.
DROP INDEX IF EXISTS {SCHEMA}.records_kind;
CREATE INDEX IF NOT EXISTS records_kinds ON {SCHEMA}.records (region, ppe, kind, seq)
    WHERE kind IN ('key', 'revoke', 'confirm');
CREATE TABLE IF NOT EXISTS {SCHEMA}.checkpoints (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region   text   NOT NULL,
    ppe      text   NOT NULL,
    records  bigint NOT NULL,           -- the size it states
    digest   bytea  NOT NULL,           -- SHA-256 of doc: a resent checkpoint is recognised
    doc      bytea  NOT NULL,           -- the signed checkpoint as written to its file
    received timestamptz NOT NULL DEFAULT now(),
    UNIQUE (region, ppe, digest)
);

-- Which login role may write which ППЭ's chain ('*', '*': any). The triggers hold every
-- role to its rows; superusers and the tables' owner (the administrator) are not bound.
-- (Row-level security would say the same, but PostgreSQL refuses COPY under it.)
CREATE TABLE IF NOT EXISTS {SCHEMA}.writers (
    role   text NOT NULL,
    region text NOT NULL,
    ppe    text NOT NULL,
    PRIMARY KEY (role, region, ppe)
);
CREATE OR REPLACE FUNCTION {SCHEMA}.may_write(r text, p text, tab oid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT current_setting('is_superuser') = 'on'
        OR EXISTS (SELECT 1 FROM {SCHEMA}.writers w WHERE w.role = current_user
                   AND ((w.region = r AND w.ppe = p) OR (w.region = '*' AND w.ppe = '*')))
        OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = tab), 'USAGE')
$$;

-- Before a row of a chain is written: may this role write it? Then the chain's lock,
-- which serialises appends to one chain until the transaction ends.
CREATE OR REPLACE FUNCTION {SCHEMA}.enter_chain(r text, p text, tab oid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT {SCHEMA}.may_write(r, p, tab) THEN
        RAISE EXCEPTION 'role % may not write the journal of ППЭ %/%', current_user, r, p USING ERRCODE = '42501';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(r || '/' || p, 0));
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.records_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb;
    held bytea;
BEGIN
    PERFORM {SCHEMA}.enter_chain(NEW.region, NEW.ppe, TG_RELID);
    SELECT hash INTO held FROM {SCHEMA}.records WHERE region = NEW.region AND ppe = NEW.ppe AND seq = NEW.seq;
    IF FOUND THEN
        IF held = NEW.hash THEN
            RETURN NULL;  -- resent unchanged: already held
        END IF;
        RAISE EXCEPTION 'ППЭ %/%: record % differs from the one received before (forked or rewritten history)',
            NEW.region, NEW.ppe, NEW.seq USING ERRCODE = '{FORK}', DETAIL = NEW.seq::text;
    END IF;
    IF NEW.hash IS DISTINCT FROM sha256(NEW.body) THEN
        RAISE EXCEPTION 'ППЭ %/%: record %: its hash does not match its body', NEW.region, NEW.ppe, NEW.seq
            USING ERRCODE = '{BAD_RECORD}', DETAIL = NEW.seq::text;
    END IF;
    doc := convert_from(NEW.body, 'UTF8')::jsonb;
    IF (doc->>'seq')::bigint IS DISTINCT FROM NEW.seq OR doc->>'kind' IS DISTINCT FROM NEW.kind
       OR doc->>'ts' IS DISTINCT FROM NEW.ts OR (doc->>'number')::bigint IS DISTINCT FROM NEW.number THEN
        RAISE EXCEPTION 'ППЭ %/%: record %: the columns differ from the signed record', NEW.region, NEW.ppe, NEW.seq
            USING ERRCODE = '{BAD_RECORD}', DETAIL = NEW.seq::text;
    END IF;
    IF NEW.seq = 1 THEN
        IF NEW.kind <> 'genesis' OR doc->>'prev' <> '' OR doc->>'region' IS DISTINCT FROM NEW.region
           OR doc->>'ppe' IS DISTINCT FROM NEW.ppe THEN
            RAISE EXCEPTION 'ППЭ %/%: record 1 is not the start of this ППЭ''s journal', NEW.region, NEW.ppe
                USING ERRCODE = '{BAD_RECORD}', DETAIL = '1';
        END IF;
        RETURN NEW;
    END IF;
    SELECT hash INTO held FROM {SCHEMA}.records WHERE region = NEW.region AND ppe = NEW.ppe AND seq = NEW.seq - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ППЭ %/%: record % comes before record % was received', NEW.region, NEW.ppe, NEW.seq,
            NEW.seq - 1 USING ERRCODE = '{BAD_RECORD}', DETAIL = NEW.seq::text;
    END IF;
    IF doc->>'prev' IS DISTINCT FROM encode(held, 'hex') THEN
        RAISE EXCEPTION 'ППЭ %/%: record % does not extend the history received (forked or rewritten history)',
            NEW.region, NEW.ppe, NEW.seq USING ERRCODE = '{FORK}', DETAIL = NEW.seq::text;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.checkpoints_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb;
    held bytea;
    latest bigint;
BEGIN
    PERFORM {SCHEMA}.enter_chain(NEW.region, NEW.ppe, TG_RELID);
    IF NEW.digest IS DISTINCT FROM sha256(NEW.doc) THEN
        RAISE EXCEPTION 'ППЭ %/%: checkpoint digest does not match it', NEW.region, NEW.ppe
            USING ERRCODE = '{BAD_CHECKPOINT}';
    END IF;
    PERFORM 1 FROM {SCHEMA}.checkpoints WHERE region = NEW.region AND ppe = NEW.ppe AND digest = NEW.digest;
    IF FOUND THEN
        RETURN NULL;  -- resent: already held
    END IF;
    doc := convert_from(NEW.doc, 'UTF8')::jsonb;
    IF (doc->>'records')::bigint IS DISTINCT FROM NEW.records THEN
        RAISE EXCEPTION 'ППЭ %/%: the checkpoint''s size differs from its column', NEW.region, NEW.ppe
            USING ERRCODE = '{BAD_CHECKPOINT}';
    END IF;
    SELECT hash INTO held FROM {SCHEMA}.records WHERE region = NEW.region AND ppe = NEW.ppe AND seq = NEW.records;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ППЭ %/%: checkpoint of % records, but record % was not received', NEW.region, NEW.ppe,
            NEW.records, NEW.records USING ERRCODE = '{BAD_CHECKPOINT}';
    END IF;
    IF doc->>'head' IS DISTINCT FROM encode(held, 'hex') THEN
        RAISE EXCEPTION 'ППЭ %/%: checkpoint of % records states another record % (forked or rewritten history)',
            NEW.region, NEW.ppe, NEW.records, NEW.records USING ERRCODE = '{FORK}', DETAIL = NEW.records::text;
    END IF;
    SELECT max(records) INTO latest FROM {SCHEMA}.checkpoints WHERE region = NEW.region AND ppe = NEW.ppe;
    IF latest > NEW.records THEN
        RAISE EXCEPTION 'ППЭ %/%: checkpoint of % records does not extend the previous one of % records',
            NEW.region, NEW.ppe, NEW.records, latest USING ERRCODE = '{BAD_CHECKPOINT}';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ppe-tech journals are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '{APPEND_ONLY}';
END $$;

{{TRIGGERS}}
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER}') THEN CREATE ROLE {WRITER} NOLOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN CREATE ROLE {READER} NOLOGIN; END IF;
END $$;
REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM PUBLIC, {WRITER}, {READER};
GRANT USAGE ON SCHEMA {SCHEMA} TO {WRITER}, {READER};
GRANT SELECT, INSERT ON {SCHEMA}.records, {SCHEMA}.checkpoints TO {WRITER};
GRANT SELECT ON {SCHEMA}.records, {SCHEMA}.checkpoints, {SCHEMA}.meta, {SCHEMA}.writers TO {WRITER}, {READER};
INSERT INTO {SCHEMA}.meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT (key) DO NOTHING;
"""


def _triggers() -> str:
    """Per table: its append check on INSERT; append-only against UPDATE, DELETE and TRUNCATE."""
    out = []
    for table in ("records", "checkpoints"):
        for name, when, each, function in ((f"{table}_append", "INSERT", "ROW", f"{table}_append"),
                                           (f"{table}_append_only", "UPDATE OR DELETE", "ROW", "append_only"),
                                           (f"{table}_no_truncate", "TRUNCATE", "STATEMENT", "append_only")):
            out.append(f"DROP TRIGGER IF EXISTS {name} ON {SCHEMA}.{table};\n"
                       f"CREATE TRIGGER {name} BEFORE {when} ON {SCHEMA}.{table}\n"
                       f"    FOR EACH {each} EXECUTE FUNCTION {SCHEMA}.{function}();")
    return "\n".join(out)


DDL = DDL.replace("{TRIGGERS}", _triggers())


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def check_url(url: str, what: str) -> str:
    if not is_url(url):
        raise BadInput(_("{what} {url}: expected a postgresql:// URL, e.g. postgresql://user@host/db").format(
            what=what, url=mask_url(url)))
    try:
        urlsplit(url).port  # noqa: B018 -- raises on a port that is not a number
    except ValueError:
        raise BadInput(_("{what} {url}: the port is not a number").format(what=what, url=mask_url(url))) from None
    return url


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover -- a dependency; broken installs only
        raise EnvironmentFailure(_("the PostgreSQL driver (psycopg) is not installed")) from None
    return psycopg


def clean_error(exc: Exception, url: str) -> str:
    """One line of a driver error, with any password in it (or in `url`) masked."""
    return mask_url(" ".join(str(exc).split()) or type(exc).__name__, known=url)


def libpq_url(url: str) -> str:
    """`url` as libpq must read it: the userinfo is what precedes the authority's last '@'
    (as urllib and ffmpeg read it), so every '@' inside it is encoded as %40. libpq splits at
    the first '@', and would otherwise send the rest of a password to the resolver as a host."""
    scheme, sep, rest = url.partition("://")
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:authority_end], rest[authority_end:]
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at or "@" not in userinfo:
        return url
    return f"{scheme}://{userinfo.replace('@', '%40')}@{host}{tail}"


def connect(url: str, *, autocommit: bool = False):
    psycopg = _psycopg()
    try:
        return psycopg.connect(libpq_url(url), autocommit=autocommit, connect_timeout=15,
                               application_name="ppe-tech")
    except psycopg.Error as exc:
        raise EnvironmentFailure(_("cannot connect to {url}: {error}").format(url=mask_url(url),
                                                                              error=clean_error(exc, url))) from None


def driver_errors():
    return _psycopg().Error


def failure(exc: Exception, url: str) -> EnvironmentFailure:
    """A driver error that stopped a command (connection lost, permissions)."""
    return EnvironmentFailure(_("{url}: {error}").format(url=mask_url(url), error=clean_error(exc, url)))


def schema_ready(conn) -> bool:
    return conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.records",)).fetchone()[0] is not None


def parse_grant(value: str) -> tuple[str, str, str]:
    """`ROLE=77/0123` (may write that ППЭ's chain) or `ROLE` (may write any): (role, region, ppe)."""
    role, sep, chain = value.partition("=")
    region, slash, ppe = chain.partition("/")
    if not role or (sep and not (slash and region.isdigit() and len(region) == 2 and ppe.isdigit())):
        raise BadInput(_("--grant {value}: expected ROLE=REGION/PPE, e.g. ppe_0123=77/0123 (or ROLE alone: any ППЭ)").format(
            value=value))
    return (role, region, ppe) if sep else (role, "*", "*")


def require_schema(conn, url: str) -> None:
    if not schema_ready(conn):
        raise EnvironmentFailure(_("{url} has no ppe-tech schema; run `ppe-tech region init --db URL` first").format(
            url=mask_url(url)))


def init(url: str, *, writers: list[str] = (), readers: list[str] = ()) -> dict:
    """Create the schema, triggers and roles (safe to run again) and grant the roles.

    `writers`: `ROLE=REGION/PPE` (that ППЭ's chain only) or `ROLE` (any chain)."""
    grants = [parse_grant(w) for w in writers]
    psycopg = _psycopg()
    from psycopg import sql

    with connect(url) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ppe-tech init', 0))")
                existed = schema_ready(conn)
                conn.execute(DDL)
                for role, region, ppe in grants:
                    conn.execute(f"INSERT INTO {SCHEMA}.writers (role, region, ppe) VALUES (%s, %s, %s) "
                                 "ON CONFLICT DO NOTHING", (role, region, ppe))
                for role, group in [(g[0], WRITER) for g in grants] + [(r, READER) for r in readers]:
                    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
                        raise BadInput(_("--grant {role}: no such role in the database; create it first "
                                         "(CREATE ROLE {role} LOGIN PASSWORD …)").format(role=role))
                    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(role)))
        except psycopg.Error as exc:
            raise failure(exc, url) from None
    return {"created": not existed, "schema": SCHEMA, "writer_role": WRITER, "reader_role": READER,
            "writers": [{"role": r, "ppe": "any" if p == "*" else f"{g}/{p}"} for r, g, p in grants],
            "readers": list(readers)}


class PgStore:
    """One ППЭ's chain in the region's database; the same interface as `journal.store.Store`."""

    def __init__(self, conn, url: str, region: str, ppe: str):
        self.conn = conn
        self.url = url
        self.path = mask_url(url)  # what messages name
        self.region, self.ppe = region, ppe
        self._key = (region, ppe)

    @classmethod
    def open(cls, url: str, *, region: str, ppe: str, create: bool = False, readonly: bool = False,
             durable: bool = True) -> "PgStore":
        if not region or not ppe:
            raise BadInput(_("a journal in PostgreSQL needs the ППЭ's codes: set [ppe] region and code in the config"))
        conn = connect(url, autocommit=True)
        try:
            if readonly:  # readers (verify, list, print) cannot write, whatever the role may do
                conn.execute("SET default_transaction_read_only = on")
            require_schema(conn, url)
            store = cls(conn, url, region, ppe)
            if not create and store.size() == 0:
                raise BadInput(_("no journal of ППЭ {region}/{ppe} in {url}").format(region=region, ppe=ppe,
                                                                                     url=mask_url(url)))
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.conn.close()

    def check_file(self, full: bool = False) -> list[str]:
        """Nothing to check here: the server keeps its own pages sound."""
        return []

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _query(self, statement: str, params: tuple = ()):
        try:
            return self.conn.execute(statement, params)
        except driver_errors() as exc:
            raise failure(exc, self.url) from None

    # -- reading ---------------------------------------------------------------------

    def raw_rows(self, after_seq: int = 0) -> Iterator[tuple]:
        """(seq, kind, number, ts, body, sig, hash) in chain order, streamed by a server-side cursor."""
        try:
            with self.conn.transaction(), self.conn.cursor(name="ppe_tech_rows") as cur:
                cur.itersize = 5000
                cur.execute(f"SELECT {_COLUMNS} FROM {SCHEMA}.records WHERE region = %s AND ppe = %s AND seq > %s "
                            "ORDER BY seq", (*self._key, after_seq))
                yield from cur
        except driver_errors() as exc:
            raise failure(exc, self.url) from None

    def rows(self, *, after_seq: int = 0) -> Iterator[Row]:
        for r in self.raw_rows(after_seq):
            yield Row.of(r)  # type: ignore[misc]

    def row_at(self, seq: int) -> Row | None:
        return Row.of(self._query(f"SELECT {_COLUMNS} FROM {SCHEMA}.records WHERE region = %s AND ppe = %s "
                                  "AND seq = %s", (*self._key, seq)).fetchone())

    def size(self) -> int:
        return self._query(f"SELECT coalesce(max(seq), 0) FROM {SCHEMA}.records WHERE region = %s AND ppe = %s",
                           self._key).fetchone()[0]

    def checkpoints(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._query(f"SELECT doc FROM {SCHEMA}.checkpoints WHERE region = %s "
                                                 "AND ppe = %s ORDER BY id", self._key)]

    def key_bodies(self) -> list[bytes]:
        return [bytes(r[0]) for r in self._query(f"SELECT body FROM {SCHEMA}.records WHERE region = %s AND ppe = %s "
                                                 "AND kind = 'key' ORDER BY seq", self._key)]

    # -- writing ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["PgTx"]:
        """One transaction holding this chain's lock: the head read inside cannot change until commit."""
        psycopg = _psycopg()
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                                  (f"{self.region}/{self.ppe}",))
                yield PgTx(self.conn, self._key)
        except psycopg.Error as exc:
            if getattr(exc, "sqlstate", None) in (FORK, BAD_RECORD, BAD_CHECKPOINT, APPEND_ONLY):
                raise BadInput(_("{url} refused the record: {error}").format(url=self.path,
                                                                           error=clean_error(exc, self.url))) from None
            raise failure(exc, self.url) from None


def _kinds(*kinds: str) -> str:
    """Kinds written into the SQL (not as parameters), so the planner sees they match the partial index."""
    if not kinds or not set(kinds) <= {"key", "revoke", "confirm"}:
        raise ValueError(f"no index for record kinds {kinds}")
    return ", ".join(f"'{k}'" for k in kinds)


class PgTx:
    def __init__(self, conn, key: tuple[str, str]):
        self.conn = conn
        self.key = key

    def _one(self, statement: str, params: tuple = ()):
        return self.conn.execute(statement, (*self.key, *params)).fetchone()

    def head(self) -> Row | None:
        return Row.of(self._one(f"SELECT {_COLUMNS} FROM {SCHEMA}.records WHERE region = %s AND ppe = %s "
                                "ORDER BY seq DESC LIMIT 1"))

    def first_body(self) -> bytes | None:
        r = self._one(f"SELECT body FROM {SCHEMA}.records WHERE region = %s AND ppe = %s AND seq = 1")
        return None if r is None else bytes(r[0])

    def last_number(self) -> int:
        return self._one(f"SELECT max(number) FROM {SCHEMA}.records WHERE region = %s AND ppe = %s")[0] or 0

    def bodies(self, *kinds: str) -> list[bytes]:
        return [bytes(r[0]) for r in self.conn.execute(
            f"SELECT body FROM {SCHEMA}.records WHERE region = %s AND ppe = %s AND kind IN ({_kinds(*kinds)}) "
            "ORDER BY seq", self.key)]

    def last_body(self, kind: str) -> bytes | None:
        r = self._one(f"SELECT body FROM {SCHEMA}.records WHERE region = %s AND ppe = %s AND kind IN ({_kinds(kind)}) "
                      "ORDER BY seq DESC LIMIT 1")
        return None if r is None else bytes(r[0])

    def insert(self, seq: int, kind: str, number: int | None, ts: str, body: bytes, sig: bytes | None,
               digest: bytes) -> None:
        self.conn.execute(f"INSERT INTO {SCHEMA}.records (region, ppe, seq, kind, number, ts, body, sig, hash) "
                          "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", (*self.key, seq, kind, number, ts, body, sig,
                                                                          digest))

    def add_checkpoint(self, seq: int, doc: bytes) -> None:
        self.conn.execute(f"INSERT INTO {SCHEMA}.checkpoints (region, ppe, records, digest, doc) "
                          "VALUES (%s, %s, %s, %s, %s)", (*self.key, seq, hashlib.sha256(doc).digest(), doc))
