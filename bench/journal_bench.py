"""Journal benchmarks: durable appends, verification against raw Ed25519, printing.

Each figure comes with a baseline measured in the same run:
- appends/s against bare SQLite inserts of the same bytes, one FULL-synchronous
  transaction each (the cost of durability itself);
- verifying N entries against verifying the same signatures over the same bytes in a
  bare loop (goal: ratio >= 0.8, the hashing, decoding and database cost little);
- printing 10,000 entries (goal: under 10 s), against drawing the same text lines on
  bare reportlab pages without layout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from journal import keystore, printing
from journal.journal import Journal
from templates.render import REGULAR, register_fonts
from conftest import build_journal


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def bench_appends(out: Path, count: int) -> None:
    folder = _fresh(out / "appends")
    made = build_journal(folder / "journal.sqlite", folder / "keys", 0, durable=True)
    station = made["station"]
    signer = keystore.load_signer(keystore.find_key_file(folder / "keys", station.key_id), None)
    with Journal.open(folder / "journal.sqlite") as j:
        start = time.perf_counter()
        for n in range(count):
            j.add(date="2026-06-01", room="0101", start="08:00", end="08:15", action=f"Проверка работоспособности {n}",
                  by=station.key_id, signer=signer)
        ours = time.perf_counter() - start
        sample = j.store.row_at(10)
    assert sample is not None
    conn = sqlite3.connect(folder / "bare.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE r(seq INTEGER PRIMARY KEY, body BLOB, sig BLOB, hash BLOB)")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO r VALUES (?, ?, ?, ?)", (n + 1, sample.body, sample.sig, sample.hash))
        conn.execute("COMMIT")
    bare = time.perf_counter() - start
    conn.close()
    print(f"journal.append   {count / ours:10.0f} durable appends/s   "
          f"bare SQLite insert+commit {count / bare:8.0f}/s   ratio {bare / ours:5.2f} (ours/bare throughput)")


def bench_verify(out: Path, entries: int) -> None:
    folder = _fresh(out / "verify")
    start = time.perf_counter()
    build_journal(folder / "journal.sqlite", folder / "keys", entries, confirm_every=1000)
    built = time.perf_counter() - start
    with Journal.open(folder / "journal.sqlite") as j:
        pairs = []
        keys = {}
        replay = j.replay()
        for k in replay.state.keys.values():
            keys[k.key_id] = Ed25519PublicKey.from_public_bytes(k.public_key)
        for seq, kind, number, ts, body, sig, stored in j.store.raw_rows():
            if sig is not None:
                pairs.append((keys[json.loads(body)["by"]], bytes(sig), bytes(body)))
        best_ours = best_raw = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            replay, problem = j.verify()
            best_ours = min(best_ours, time.perf_counter() - start)
            assert problem is None
            start = time.perf_counter()
            for key, sig, body in pairs:
                key.verify(sig, body)
            best_raw = min(best_raw, time.perf_counter() - start)
    print(f"journal.verify   {entries} entries ({len(pairs)} signatures) in {best_ours:6.2f} s   "
          f"raw Ed25519 {best_raw:6.2f} s   ratio {best_raw / best_ours:5.2f} (goal >= 0.8)   [built in {built:.0f} s]")


def bench_print(out: Path, entries: int) -> None:
    folder = _fresh(out / "print")
    build_journal(folder / "journal.sqlite", folder / "keys", entries, confirm_every=500)
    tz = ZoneInfo("Europe/Moscow")
    start = time.perf_counter()
    with Journal.open(folder / "journal.sqlite") as j:
        replay, problem = j.verify()
    doc = printing.build_print(replay, problem, tz=tz, region="77 — г. Москва", ppe_code="0123",
                               name_address="ГБОУ Школа № 1, г. Москва, ул. Примерная, д. 1", date_from=None,
                               date_to=None, now=datetime.now(timezone.utc), stored_checkpoints=[])
    pages = printing.print_pdf(doc, folder / "journal.pdf")
    ours = time.perf_counter() - start

    from reportlab.pdfgen.canvas import Canvas
    register_fonts()
    start = time.perf_counter()
    canvas = Canvas(str(folder / "bare.pdf"), initialFontName=REGULAR)
    per_page = max(1, len(doc.rows) // max(1, pages - 1))
    for i, row in enumerate(doc.rows):
        if i and i % per_page == 0:
            canvas.showPage()
            canvas.setFont(REGULAR, 8)
        y = 800 - (i % per_page) * 60
        for k, text in enumerate((str(row.number), row.date, row.room, row.start, row.end, row.action,
                                  row.actor, row.responsible)):
            for m, line in enumerate(text.split("\n")):
                canvas.drawString(20 + k * 70, y - m * 10, line)
    canvas.save()
    bare = time.perf_counter() - start
    size = (folder / "journal.pdf").stat().st_size
    print(f"journal.print    {entries} entries, {pages} sheets in {ours:6.2f} s ({pages / ours:5.0f} sheets/s, "
          f"{size / 2**20:.1f} MiB; goal < 10 s incl. verify)   bare reportlab text {bare:6.2f} s   "
          f"ratio {ours / bare:5.2f} (ours/bare time)")


def main(out: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench journal")
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--print-entries", type=int, default=10_000)
    args = parser.parse_args(argv)
    print(f"# journal benchmarks ({os.cpu_count()} cores)")
    bench_appends(out, args.appends)
    bench_verify(out, args.entries)
    bench_print(out, args.print_entries)
