"""Regional centre benchmarks, on a throwaway PostgreSQL cluster with fsync on.

- Push of 100,000 entries from a ППЭ's journal: entries per second of the whole
  `ppe-tech journal push` process (verifying the local journal, comparing it with the
  region's copy, COPY batches through the append-only triggers), into a fresh database
  each time. Baseline in the same run: a plain COPY of the same rows into a table of the
  same columns with no triggers, no checks and no verification.
- Region verify of 100 ППЭ × 1,000 entries (`region.verify`, in-process) against the
  same verification of the same 100 journals as SQLite files (`Journal.verify` on each),
  in the same run.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import closing
from pathlib import Path

from journal import pgstore, region, signing
from journal.journal import Journal, new_cert
from journal.localpg import LocalPostgres
from conftest import ROOT, Clock, subprocess_env



def _signers() -> list[tuple]:
    people = [("Иванов Иван Иванович", "технический специалист", "person"),
              ("Петров Алексей Андреевич", "руководитель ППЭ", "person"),
              ("Станция ППЭ", "автоматические действия", "station")]
    out = []
    for name, position, role in people:
        signer = signing.generate()
        cert, sig = new_cert(signer, name=name, position=position, role=role, created="2026-06-01T05:00:00+00:00")
        out.append((signer, cert, sig))
    return out


def build(path: Path, ppe: str, entries: int, signers: list[tuple]) -> None:
    """A ППЭ's journal: three keys, `entries` entries, a confirmation every 50, a checkpoint at the end."""
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with Journal.open(tmp, create=True, durable=False, clock=Clock(), region="77", ppe=ppe) as j:
        for _signer, cert, sig in signers:
            j.register_key(cert, sig)
        (spec, spec_cert, _), (head, head_cert, _), (station, station_cert, _) = signers
        for n in range(1, entries + 1):
            signer, cert = (station, station_cert) if n % 3 == 0 else (spec, spec_cert)
            j.add(date="2026-06-01", room=f"{n % 17 + 1:04d}", start="08:00", end="08:15",
                  action=f"Проверка работоспособности {n}", by=cert["key_id"], signer=signer)
            if n % 50 == 0:
                j.confirm(by=head_cert["key_id"], signer=head)
        key = j.state().keys[head_cert["key_id"]]
        j.checkpoint(key, head)
    tmp.rename(path)


def fresh_db(pg: LocalPostgres) -> str:
    name = "b_" + uuid.uuid4().hex[:10]
    pg.sql(f"CREATE DATABASE {name}")
    url = pg.url_for("postgres", name)
    pgstore.init(url)
    return url


def plain_copy(url: str, journal: Path) -> float:
    """The baseline: the same rows COPY'd into a bare table (no triggers, no checks)."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE plain (region text, ppe text, seq bigint PRIMARY KEY, kind text, number bigint, "
                     "ts text, body bytea, sig bytea, hash bytea)")
        conn.commit()
        start = time.perf_counter()
        with closing(sqlite3.connect(journal)) as src, conn.cursor() as cur:
            with cur.copy("COPY plain FROM STDIN") as copy:
                for row in src.execute("SELECT seq, kind, number, ts, body, sig, hash FROM records ORDER BY seq"):
                    copy.write_row(("77", "0123", *row))
        conn.commit()
        return time.perf_counter() - start


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench region")
    parser.add_argument("--entries", type=int, default=100_000, help="entries of the pushed journal")
    parser.add_argument("--ppe", type=int, default=100, help="ППЭ in the region")
    parser.add_argument("--per-ppe", type=int, default=1000, help="entries per ППЭ")
    args = parser.parse_args(argv)
    work = out / "region"
    work.mkdir(parents=True, exist_ok=True)
    signers = _signers()
    started = time.perf_counter()
    big = work / f"push-{args.entries}.sqlite"
    build(big, "0123", args.entries, signers)
    files = [work / f"ppe-{k:04d}-{args.per_ppe}.sqlite" for k in range(1, args.ppe + 1)]
    for k, path in enumerate(files, 1):
        build(path, f"{k:04d}", args.per_ppe, signers)
    print(f"# region benchmarks (journals built or reused in {time.perf_counter() - started:.0f} s)", flush=True)

    with LocalPostgres(fsync=True) as pg:
        config = work / "ppe-tech.toml"
        config.write_text(f'[ppe]\nregion = "77"\ncode = "0123"\n[journal]\npath = "{big}"\n', encoding="utf-8")
        env = subprocess_env(PPE_TECH_CONFIG=str(config), PPE_TECH_DATA=str(work / "data"))
        ours, base, checks = [], [], []
        for _ in range(3):
            url = fresh_db(pg)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ppe_tech", "journal", "push", "--to", url], env=env, cwd=ROOT,
                           check=True, capture_output=True)
            ours.append(time.perf_counter() - start)
            base.append(plain_copy(url, big))
            start = time.perf_counter()
            with Journal.open(big, readonly=True) as j:
                assert j.verify()[1] is None
            checks.append(time.perf_counter() - start)
        t_push, t_copy, t_verify = statistics.median(ours), statistics.median(base), statistics.median(checks)
        with closing(sqlite3.connect(big)) as src:
            records = src.execute("SELECT count(*) FROM records").fetchone()[0]
        print(f"journal push of {args.entries:,} entries ({records:,} records): {t_push:.2f} s, "
              f"{args.entries / t_push:,.0f} entries/s (whole process, fsync on, median of 3); plain COPY of the "
              f"same rows: {t_copy:.2f} s, ratio {t_copy / t_push:.2f} (our speed / plain COPY's); the local "
              f"journal's verification alone, which push does first: {t_verify:.2f} s, so verification plus plain "
              f"COPY: {t_verify + t_copy:.2f} s, ratio {(t_verify + t_copy) / t_push:.2f}", flush=True)

        url = fresh_db(pg)
        for path in files:
            with Journal.open(path, readonly=True) as j:
                region.push(j, url)
        timings: dict[str, list[float]] = {"pg": [], "pg1": [], "sqlite": []}
        for _ in range(3):
            start = time.perf_counter()
            reports = region.verify(url)
            timings["pg"].append(time.perf_counter() - start)
            assert len(reports) == args.ppe and all(r.ok for r in reports)
            start = time.perf_counter()
            region.verify(url, jobs=1)
            timings["pg1"].append(time.perf_counter() - start)
            start = time.perf_counter()
            for path in files:
                with Journal.open(path, readonly=True) as j:
                    _replay, problem = j.verify()
                    assert problem is None
            timings["sqlite"].append(time.perf_counter() - start)
        t_pg, t_pg1, t_sqlite = (statistics.median(timings[k]) for k in ("pg", "pg1", "sqlite"))
        total = args.ppe * args.per_ppe
        print(f"region verify of {args.ppe} ППЭ x {args.per_ppe:,} entries: {t_pg:.2f} s ({total / t_pg:,.0f} "
              f"entries/s, one process per CPU; {t_pg1:.2f} s in one process); the same verification of the "
              f"{args.ppe} SQLite journals: {t_sqlite:.2f} s; ratio {t_sqlite / t_pg:.2f}x (one process: "
              f"{t_sqlite / t_pg1:.2f}x)", flush=True)
