"""The environment stopping a command is named as such (exit 3, the file and the cause):
a read-only journal, a full disk under the journal and the keys, a journal locked by another
process (the command says it waits, and how long)."""

from __future__ import annotations

import os
import sys
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import IS_ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux" or not IS_ROOT, reason="mounting file systems needs Linux and root (CI runs as root)")


@pytest.fixture
def mounted(home):
    """The data dir on its own small tmpfs; unmounted afterwards."""
    data = home / "data"
    data.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(data)], check=True)
    yield data
    subprocess.run(["umount", "-l", str(data)], check=False)


def _fill(folder):
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def test_read_only_journal_is_named_with_its_cause(ppe, mounted, people, home):
    journal = mounted / "journal.sqlite"
    subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
    r = ppe("journal", "add", "--room", "0101", "--action", "Проверка", "--key", people["specialist"])
    assert r.code == 3 and str(journal) in r.err and "read-only" in r.err, r.err
    assert "internal error" not in r.err and len(r.err_lines()) == 1
    r = ppe("journal", "checkpoint", "--key", people["head"], "--out", home / "cp.json")
    assert r.code == 3 and str(journal) in r.err and "read-only" in r.err, r.err
    r = ppe("keys", "create", "--name", "Сидоров", "--position", "член ГЭК")
    assert r.code == 3 and str(mounted) in r.err and "internal error" not in r.err, r.err
    assert ppe("journal", "verify").code == 0  # reading still works


def test_full_disk_under_the_journal_is_named(ppe, mounted, people, home):
    journal = mounted / "journal.sqlite"
    _fill(mounted)
    r = ppe("journal", "add", "--room", "0101", "--action", "Проверка " * 50, "--key", people["specialist"])
    assert r.code == 3 and str(journal) in r.err and "disk is full" in r.err, r.err
    assert "internal error" not in r.err and len(r.err_lines()) == 1
    r = ppe("keys", "create", "--name", "Сидоров", "--position", "член ГЭК")
    assert r.code == 3 and "full" in r.err and "internal error" not in r.err, r.err
    (mounted / "filler").unlink()
    assert ppe("journal", "verify").code == 0
    r = ppe("journal", "add", "--room", "0101", "--action", "Проверка", "--key", people["specialist"])
    assert r.code == 0, r.err


def test_a_locked_journal_says_it_waits_and_how_long(ppe, people, home):
    journal = home / "data" / "journal.sqlite"
    holder = sqlite3.connect(journal, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another process appending, or a stuck one
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    try:
        r = ppe("journal", "add", "--room", "0101", "--action", "Проверка", "--key", people["specialist"])
    finally:
        release.join()
        holder.close()
    assert r.code == 0, r.err
    assert time.monotonic() - started >= 1.4
    assert "locked by another process" in r.err and "waiting up to 60 s" in r.err, r.err
