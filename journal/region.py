"""The regional centre: a ППЭ pushes its journal to the region's PostgreSQL database;
the commission verifies every ППЭ's chain there.

Push sends what the region does not hold yet (records, then checkpoints) in batches,
each its own transaction, so it is safe to resend and resumes after an interruption.
Before sending it compares its history with the region's copy: a journal that was
rewritten, forked or rolled back since its last push is refused, naming the first
record that differs. The database's triggers enforce the same (see `pgstore`), so a
client that skips these checks cannot rewrite the region's copy either.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable, Iterable

from journal import chain, checkpoint, pgstore
from journal.chain import Problem
from journal.journal import Journal
from journal.model import State
from ppe_tech.errors import BadInput, EnvironmentFailure, ExitCode, PpeError
from ppe_tech.messages import _
from ppe_tech.secrets import mask_url

S = pgstore.SCHEMA
BATCH = 5000
PARALLEL_FROM = 20_000  # records; below this, starting processes costs more than it saves


class Rejected(PpeError):
    """The region refused the push, or the journal may not be pushed (exit 1)."""

    exit_code = ExitCode.NEGATIVE


@dataclass
class PushResult:
    region: str
    ppe: str
    journal: str
    held_before: int
    records: int = 0
    entries: int = 0
    confirmations: int = 0
    checkpoints: int = 0
    held_after: int = 0

    def as_json(self) -> dict:
        return {"region": self.region, "ppe": self.ppe, "journal": self.journal, "held_before": self.held_before,
                "sent": {"records": self.records, "entries": self.entries, "confirmations": self.confirmations,
                         "checkpoints": self.checkpoints}, "held_after": self.held_after}


def _where(state: State, seq: int) -> str:
    """How a record is named to people: the entry it is, or the entries it follows."""
    for entry in state.entries:
        if entry.seq == seq:
            return _("entry {n}").format(n=entry.number)
    before = sum(1 for e in state.entries if e.seq < seq)
    return _("record {seq} (after entry {n})").format(seq=seq, n=before) if before else _("record {seq}").format(seq=seq)


def _first_difference(conn, key: tuple[str, str], hashes: list[bytes], upto: int) -> int | None:
    """The first position <= upto whose hash differs between the region and `hashes`; None if none.

    The chain links each record to the hash of the one before, so equal hashes at
    `upto` mean equal records up to there: the common case costs one lookup."""
    row = conn.execute(f"SELECT hash FROM {S}.records WHERE region = %s AND ppe = %s AND seq = %s",
                       (*key, upto)).fetchone()
    if row is not None and bytes(row[0]) == hashes[upto - 1]:
        return None
    held = dict(conn.execute(f"SELECT seq, hash FROM {S}.records WHERE region = %s AND ppe = %s AND seq <= %s",
                             (*key, upto)).fetchall())
    for seq in range(1, upto + 1):
        if bytes(held.get(seq, b"")) != hashes[seq - 1]:
            return seq
    return upto  # pragma: no cover -- the lookup above said they differ


def _refusal(exc: Exception, url: str, state: State) -> PpeError:
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in (pgstore.FORK, pgstore.BAD_RECORD, pgstore.BAD_CHECKPOINT, pgstore.APPEND_ONLY):
        detail = getattr(getattr(exc, "diag", None), "message_detail", None)
        where = _where(state, int(detail)) if detail and detail.isdigit() else _("journal")
        primary = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
        return Rejected(_("the region refused {where}: {why}").format(where=where, why=primary))
    if sqlstate == "42501":  # insufficient privilege: a role writing another ППЭ's chain, or a reader
        return EnvironmentFailure(_("{url}: this role may not write the journal of ППЭ {region}/{ppe} ({error}); "
                                    "see `region init --grant`").format(url=mask_url(url), region=state.region,
                                                                        ppe=state.ppe, error=pgstore.clean_error(exc, url)))
    return pgstore.failure(exc, url)


def push(journal: Journal, url: str, *, batch: int = BATCH,
         progress: Callable[[int], None] | None = None, total: Callable[[int], None] | None = None) -> PushResult:
    """Send `journal`'s records and checkpoints that the region at `url` does not hold yet."""
    errors = pgstore.driver_errors()
    replay, problem = journal.verify()
    state = replay.state
    if problem is not None:
        raise Rejected(_("this journal fails verification ({why}); nothing was sent").format(why=problem.message))
    if not state.region or not state.ppe:
        raise BadInput(_("this journal was started without the ППЭ's codes ([ppe] region and code), "
                         "so the region cannot file it"))
    key = (state.region, state.ppe)
    local = len(replay.hashes)
    with pgstore.connect(url) as conn:
        try:
            pgstore.require_schema(conn, url)
            held = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {S}.records WHERE region = %s AND ppe = %s",
                                key).fetchone()[0]
            if held:
                first = _first_difference(conn, key, replay.hashes, min(held, local))
                if first is not None:
                    raise Rejected(_("the region's copy of ППЭ {region}/{ppe} differs from this journal from {where} "
                                     "on: the history was rewritten or forked; nothing was sent").format(
                        region=key[0], ppe=key[1], where=_where(state, first)))
                if held > local:
                    raise Rejected(_("the region holds {held} records of ППЭ {region}/{ppe}, this journal only {local}: "
                                     "it was rolled back; nothing was sent").format(held=held, region=key[0],
                                                                                   ppe=key[1], local=local))
            conn.commit()
        except errors as exc:
            raise pgstore.failure(exc, url) from None
        result = PushResult(key[0], key[1], state.journal_id, held)
        if total is not None:
            total(local - held)
        rows = journal.store.rows(after_seq=held)
        try:
            while True:
                chunk = list(itertools.islice(rows, batch))
                if not chunk:
                    break
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(f"COPY {S}.records (region, ppe, seq, kind, number, ts, body, sig, hash) "
                                  "FROM STDIN") as copy:
                        for r in chunk:
                            copy.write_row((*key, r.seq, r.kind, r.number, r.ts, r.body, r.sig, r.hash))
                    # rows another push of the same journal sent meanwhile were skipped by the database:
                    # they are the start of this chunk, as the region's copy has no gaps
                    inserted = chunk[len(chunk) - max(0, cur.rowcount):]
                result.records += len(inserted)
                result.entries += sum(1 for r in inserted if r.kind == "entry")
                result.confirmations += sum(1 for r in inserted if r.kind == "confirm")
                if progress is not None:
                    progress(len(chunk))
            for doc in journal.store.checkpoints():
                records = json.loads(doc)["records"]  # the journal's verification above checked it and its signature
                with conn.transaction():
                    cur = conn.execute(f"INSERT INTO {S}.checkpoints (region, ppe, records, digest, doc) "
                                       "VALUES (%s, %s, %s, sha256(%s), %s)", (*key, records, doc, doc))
                    result.checkpoints += cur.rowcount
            result.held_after = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {S}.records WHERE region = %s "
                                             "AND ppe = %s", key).fetchone()[0]
            conn.commit()
        except errors as exc:
            raise _refusal(exc, url, state) from None
    return result


# -- the region's verification ------------------------------------------------------------


@dataclass
class ChainReport:
    region: str
    ppe: str
    journal: str = ""
    records: int = 0
    entries: int = 0
    confirmed: int = 0
    checkpoint: dict | None = None  # the last one: ts, records, entries, by
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def confirmed_share(self) -> float:
        return self.confirmed / self.entries if self.entries else 1.0

    def as_json(self) -> dict:
        return {"region": self.region, "ppe": self.ppe, "journal": self.journal, "ok": self.ok,
                "records": self.records, "entries": self.entries, "confirmed": self.confirmed,
                "confirmed_percent": round(100 * self.confirmed_share),
                "last_checkpoint": self.checkpoint, "problems": [p.as_json() for p in self.problems]}


def check_chain(region: str, ppe: str, rows: Iterable[tuple], docs: list[bytes]) -> ChainReport:
    """Replay one ППЭ's chain as `journal verify` does, then every checkpoint the region holds for it."""
    rows = list(rows)
    replay = chain.replay(lambda: rows)
    state = replay.state
    report = ChainReport(region, ppe, state.journal_id, len(replay.hashes), len(state.entries),
                         sum(1 for e in state.entries if e.confirmation is not None))
    if replay.problem is not None:
        report.problems.append(replay.problem)
    elif (state.region, state.ppe) != (region, ppe):
        report.problems.append(Problem("inserted", 1, None, _("the journal of ППЭ {a} is filed under ППЭ {b}").format(
            a=f"{state.region}/{state.ppe}", b=f"{region}/{ppe}")))
    for doc in docs:
        try:
            parsed = checkpoint.parse(doc, _("a checkpoint in the database"))
        except BadInput as exc:
            report.problems.append(Problem("edited", None, None, exc.message))
            continue
        if replay.problem is None:
            found = checkpoint.check(replay, parsed)
            if found is not None:
                report.problems.append(found)
                continue
        report.checkpoint = {"ts": parsed.get("ts") or parsed.get("head_ts"), "records": parsed["records"],
                             "entries": parsed["entries"], "by": parsed.get("name") or parsed.get("by")}
    return report


def chains(conn, region: str | None) -> list[tuple[str, str, int]]:
    """(region, ППЭ, records held) of every chain, also of one whose records are all gone but whose
    checkpoints remain (held 0)."""
    where, params = ("WHERE region = %s", (region,)) if region else ("", ())
    held = {(r[0], r[1]): r[2] for r in conn.execute(
        f"SELECT region, ppe, count(*) FROM {S}.records {where} GROUP BY region, ppe", params)}
    for r, p in conn.execute(f"SELECT DISTINCT region, ppe FROM {S}.checkpoints {where}", params):
        held.setdefault((r, p), 0)
    return sorted((r, p, n) for (r, p), n in held.items())


def _verify_chains(url: str, listed: list[tuple[str, str, int]], lang: str | None = None,
                   progress: Callable[[int], None] | None = None) -> list[ChainReport]:
    """Verify the chains `listed` over one connection: their rows streamed in chain order."""
    if lang is not None:  # in a worker process
        from ppe_tech.messages import set_language
        set_language(lang)
    errors = pgstore.driver_errors()
    held = {(r, p): n for r, p, n in listed}
    keys = ([r for r, _p, _n in listed], [p for _r, p, _n in listed])
    where = "WHERE (region, ppe) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
    reports = []
    with pgstore.connect(url, autocommit=True) as conn:
        try:
            docs: dict[tuple[str, str], list[bytes]] = {}
            for r, p, doc in conn.execute(f"SELECT region, ppe, doc FROM {S}.checkpoints {where} ORDER BY id", keys):
                docs.setdefault((r, p), []).append(bytes(doc))
            with conn.transaction(), conn.cursor(name="ppe_tech_region") as cur:
                cur.itersize = 10_000
                cur.execute(f"SELECT region, ppe, seq, kind, number, ts, body, sig, hash FROM {S}.records {where} "
                            "ORDER BY region, ppe, seq", keys)
                for key, group in itertools.groupby(cur, key=itemgetter(0, 1)):
                    report = check_chain(key[0], key[1], (row[2:] for row in group), docs.pop(key, []))
                    report.records = held[key]  # all it holds, also past a failure
                    reports.append(report)
                    if progress is not None:
                        progress(report.records)
        except errors as exc:
            raise pgstore.failure(exc, url) from None
    for (r, p), orphan in docs.items():  # checkpoints of a ППЭ whose records are gone
        reports.append(check_chain(r, p, [], orphan))
    return reports


def _parts(listed: list[tuple[str, str, int]], count: int) -> list[list[tuple[str, str, int]]]:
    """`listed` cut into about `count` runs of about equal records, in order."""
    per = max(1, sum(n for _r, _p, n in listed) // count)
    parts: list[list[tuple[str, str, int]]] = [[]]
    size = 0
    for item in listed:
        if size >= per:
            parts.append([])
            size = 0
        parts[-1].append(item)
        size += item[2] + 1
    return parts


def verify(url: str, *, region: str | None = None, only: list[tuple[str, str]] | None = None,
           jobs: int | None = None, progress: Callable[[int], None] | None = None,
           total: Callable[[int], None] | None = None) -> list[ChainReport]:
    """Every ППЭ's chain in the region's database (or one region's, or `only` these), in (region, ППЭ)
    order; `jobs` processes share the chains (default: one per CPU)."""
    errors = pgstore.driver_errors()
    with pgstore.connect(url, autocommit=True) as conn:  # closed before any worker starts
        try:
            pgstore.require_schema(conn, url)
            listed = [c for c in chains(conn, region) if only is None or (c[0], c[1]) in only]
        except errors as exc:
            raise pgstore.failure(exc, url) from None
    if total is not None:
        total(sum(n for _r, _p, n in listed))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(listed)))
    if jobs == 1 or sum(n for _r, _p, n in listed) < PARALLEL_FROM:
        reports = _verify_chains(url, listed, progress=progress)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from ppe_tech.messages import language
        reports = []
        with ProcessPoolExecutor(jobs) as pool:
            futures = {pool.submit(_verify_chains, url, part, language()): part for part in _parts(listed, jobs * 4)}
            for future in as_completed(futures):
                reports += future.result()
                if progress is not None:
                    progress(sum(n for _r, _p, n in futures[future]))
    reports.sort(key=lambda rep: (rep.region, rep.ppe))
    return reports
