"""Several processes appending at once, and a process killed while appending."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
import time

from journal import keystore
from journal.journal import Journal
from conftest import HARD_KILL, ROOT, build_journal, subprocess_env


def _appender(path: str, keys_dir: str, key_id: str, count: int, worker: int) -> None:
    from pathlib import Path

    signer = keystore.load_signer(keystore.find_key_file(Path(keys_dir), key_id), None)
    with Journal.open(Path(path)) as j:
        for i in range(count):
            j.add(date="2026-06-01", room=f"{worker:04d}", start="08:00", end=None,
                  action=f"worker {worker} step {i}", by=key_id, signer=signer)


def test_four_processes_200_appends_each(tmp_path):
    path, keys_dir = tmp_path / "journal.sqlite", tmp_path / "keys"
    made = build_journal(path, keys_dir, 0, durable=True)
    station = made["station"].key_id
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_appender, args=(str(path), str(keys_dir), station, 200, w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
        assert w.exitcode == 0
    with Journal.open(path) as j:
        replay, problem = j.verify()
    assert problem is None
    entries = replay.state.entries
    assert [e.number for e in entries] == list(range(1, 801))
    per_worker = {}
    for e in entries:
        per_worker.setdefault(e.room, []).append(int(e.action.split()[-1]))
    assert sorted(per_worker) == ["0000", "0001", "0002", "0003"]
    assert all(steps == list(range(200)) for steps in per_worker.values())  # each worker's order kept


CRASH_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from journal import keystore
    from journal.journal import Journal
    path, keys_dir, key_id = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    signer = keystore.load_signer(keystore.find_key_file(keys_dir, key_id), None)
    with Journal.open(path) as j:
        n = 0
        while True:
            n += 1
            appended = j.add(date="2026-06-01", room="0101", start="08:00", end=None,
                             action=f"loop {n}", by=key_id, signer=signer)
            print(appended.number, flush=True)
""")


def test_sigkill_while_appending_loses_nothing_reported(tmp_path):
    path, keys_dir = tmp_path / "journal.sqlite", tmp_path / "keys"
    made = build_journal(path, keys_dir, 3, durable=True)
    proc = subprocess.Popen([sys.executable, "-c", CRASH_SCRIPT, str(path), str(keys_dir), made["station"].key_id],
                            stdout=subprocess.PIPE, text=True, env=subprocess_env(), cwd=ROOT)
    reported = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(reported) < 150 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        reported.append(int(line))
    proc.send_signal(HARD_KILL)
    proc.wait(timeout=10)
    assert len(reported) >= 150, "the appender did not get going"
    with Journal.open(path) as j:
        replay, problem = j.verify()
    assert problem is None
    numbers = {e.number for e in replay.state.entries}
    assert set(reported) <= numbers
    assert sorted(numbers) == list(range(1, len(numbers) + 1))
