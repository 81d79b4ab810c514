"""Archiving recorded segments: create, verify, tampering, interruption, a full medium."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import HARD_KILL, IS_ROOT, host_tool, PASSPHRASE, ROOT, SPECIALIST, Simulator, WINDOWS_NO_FIFOS, shows_room, subprocess_env, symlink
from video import archive as arc
from video import archive_select as sel

TZ = ZoneInfo("Europe/Moscow")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, sim_cache):
    """Twelve seconds of four cameras (corridor, entrance, two rooms) recorded in 4 s segments."""
    base = tmp_path_factory.mktemp("archive-src")
    sim = Simulator([{"name": n} for n in ("corr-1", "ent-1", "room-1", "room-2")], sim_cache)
    # The exam starts this minute, so its day (the day of a fragment's --window) is the day of the
    # recordings; "in an hour" put it on the next day from 23:00 Moscow time, and the fragment
    # test found no recordings. Within 100 s of midnight, the recordings wait for the new day, so
    # they end before 23:59 (the latest end a fragment's window can name).
    now = datetime.now(TZ)
    to_midnight = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), TZ) - now).total_seconds()
    if to_midnight < 100:
        time.sleep(to_midnight + 1)
        now = datetime.now(TZ)
    start = now.strftime("%Y-%m-%dT%H:%M")
    config = base / "ppe-tech.toml"
    config.write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\nname = "ГБОУ Школа № 1"\ntimezone = "Europe/Moscow"\n'
        '[recording]\nsegment = "4s"\n'
        f'[[exams]]\nid = "today-math"\nsubject = "Математика"\nstart = "{start}"\nduration = "3h55m"\n'
        f'[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nroom = "коридор 2 этажа"\nurl = "{sim.url("corr-1")}"\n'
        f'[[cameras]]\nid = "ent-1"\nlocation = "entrance"\nroom = "вход"\nurl = "{sim.url("ent-1")}"\n'
        f'[[cameras]]\nid = "room-1"\nlocation = "auditorium"\nroom = "0101"\nurl = "{sim.url("room-1")}"\n'
        f'[[cameras]]\nid = "room-2"\nlocation = "auditorium"\nroom = "0102"\nurl = "{sim.url("room-2")}"\n',
        encoding="utf-8")
    env = subprocess_env(PPE_TECH_CONFIG=str(config), PPE_TECH_DATA=str(base / "data"), PPE_TECH_PASSPHRASE=PASSPHRASE)
    run = lambda *a: subprocess.run([sys.executable, "-m", "ppe_tech", *a], env=env, cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True)
    key = json.loads(run("keys", "create", "--name", SPECIALIST[0], "--position", SPECIALIST[1], "--json").stdout)
    assert run("cameras", "start").returncode == 0
    time.sleep(13)
    assert run("cameras", "stop").returncode == 0
    sim.stop()
    return base, config, key["key_id"]


@pytest.fixture
def env(recorded, monkeypatch, tmp_path):
    base, config, key = recorded
    data = tmp_path / "data"
    shutil.copytree(base / "data", data)
    monkeypatch.setenv("PPE_TECH_CONFIG", str(config))
    monkeypatch.setenv("PPE_TECH_DATA", str(data))
    monkeypatch.setenv("PPE_TECH_PASSPHRASE", PASSPHRASE)
    monkeypatch.chdir(tmp_path)
    return tmp_path, key


def create(ppe, dest, key, *extra):
    return ppe("archive", "create", "--exam", "today-math", "--to", dest, "--mkdir", "--key", key, "--json", *extra)


def test_create_then_verify_and_sha256sum(ppe, env):
    tmp, key = env
    r = create(ppe, tmp / "usb", key)
    assert r.code == 0, r.err
    from pathlib import Path
    folder = Path(r.json["dir"])
    assert folder.parent == tmp / "usb"
    assert re.match(r"^77_0123_\d{4}-\d{2}-\d{2}_today-math$", folder.name), folder.name
    cams = {f["camera"] for f in r.json["files"]}
    assert cams == {"corr-1", "ent-1"}  # corridor and entrance only
    names = sorted(p.name for p in folder.iterdir())
    assert "SHA256SUMS" in names and "manifest.json" in names and "manifest.sig" in names
    assert not [n for n in names if n.endswith(".partial")]
    for f in r.json["files"]:
        name = os.path.basename(f["path"])
        assert name.startswith("77_0123_") and f["camera"] in name
        assert f["bytes"] > 100_000
    check = subprocess.run([host_tool("sha256sum"), "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    corridor = next(p for p in folder.iterdir() if "_corr-1_" in p.name)
    assert "koridor-2-etazha" in corridor.name
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:program_tags",
                            "-of", "json", str(corridor)], capture_output=True, text=True)
    info = json.loads(probe.stdout)
    assert 8 < float(info["format"]["duration"]) < 30  # one continuous run, sane timestamps
    tags = info["programs"][0]["tags"]  # the container says what the file name says
    manifest_file = next(f for f in r.json["files"] if f["camera"] == "corr-1")
    assert tags["service_provider"] == "регион 77, ППЭ 0123"
    stamp = re.search(r"_(\d{4}-\d{2}-\d{2})_(\d\d)(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)\.ts$", corridor.name).groups()
    assert tags["service_name"] == (f"{stamp[0]} {stamp[1]}:{stamp[2]}:{stamp[3]}–{stamp[4]}:{stamp[5]}:{stamp[6]} "
                                    "corr-1 коридор 2 этажа"), tags
    assert manifest_file["bytes"] == corridor.stat().st_size
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["exam"]["id"] == "today-math" and manifest["ppe"] == "0123"
    assert {f["room"] for f in manifest["files"]} == {"коридор 2 этажа", "вход"}
    act = subprocess.run([host_tool("pdftotext"), str(folder / "act.pdf"), "-"], capture_output=True, text=True).stdout
    for needle in ("Акт передачи видеозаписей", "коридор 2 этажа", "вход", "Технический специалист", "Член ГЭК",
                   manifest["files"][0]["sha256"], "Лист 1 из"):
        assert needle in act, needle
    # the recording window is judged: the hours after the recording stopped are a gap, in hours and minutes
    assert manifest["exam"]["window"]["to"] == (datetime.fromisoformat(manifest["exam"]["end"])
                                                + timedelta(hours=1)).isoformat()
    assert "Пропуски записи в окне записи экзамена" in act and " мин " in act
    assert not re.search(r"\(\d{3,} с\)", act)  # never «(892 с)»
    r = ppe("archive", "verify", folder, "--json")
    assert r.code == 0, r.out
    assert r.json["ok"] and r.json["files"] == 2 and r.json["signature"] == "valid"
    entries = ppe("journal", "list", "--json").json["entries"]
    assert entries[-1]["action"] == "Копирование видеозаписей"
    assert entries[-1]["actor"]["key_id"] == key
    first_files = sorted(os.path.basename(f["path"]) for f in create(ppe, tmp / "usb", key).json["files"])
    again = create(ppe, tmp / "usb", key)  # a rerun skips what is verified
    assert again.code == 0 and sorted(again.json["reused"]) == first_files
    after = ppe("journal", "list", "--json").json["entries"]
    assert len(after) == len(entries) and again.json["journal_entry"] == entries[-1]["number"]  # no second copying


@pytest.fixture
def made(ppe, env):
    tmp, key = env
    r = create(ppe, tmp / "usb", key)
    assert r.code == 0, r.err
    from pathlib import Path
    return Path(r.json["dir"])


def verify(ppe, folder):
    r = ppe("archive", "verify", folder, "--json")
    return r.code, r.json


def test_flipped_bit_is_named(ppe, made):
    victim = sorted(p for p in made.iterdir() if p.suffix == ".ts")[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x10
    victim.write_bytes(bytes(data))
    code, result = verify(ppe, made)
    assert code == 1 and result["mismatched"] == [victim.name] and not result["missing"]


def test_missing_and_extra_files_are_named(ppe, made):
    victim = sorted(p for p in made.iterdir() if p.suffix == ".ts")[0]
    victim.unlink()
    (made / "notes.txt").write_text("лишний файл", encoding="utf-8")
    code, result = verify(ppe, made)
    assert code == 1 and result["missing"] == [victim.name] and result["extra"] == ["notes.txt"]


def test_edited_manifest_is_caught(ppe, made):
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][0]["room"] = "подменено"
    (made / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    code, result = verify(ppe, made)
    assert code == 1 and result["signature"] == "invalid"


def test_sigkill_during_copy_then_rerun(ppe, env):
    tmp, key = env
    dest = tmp / "usb"
    cmd = [sys.executable, "-m", "ppe_tech", "archive", "create", "--exam", "today-math", "--to", str(dest), "--mkdir",
           "--key", key]
    killed = False
    for _attempt in range(5):
        shutil.rmtree(dest, ignore_errors=True)
        proc = subprocess.Popen(cmd, env=subprocess_env(), cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if dest.exists() and any(p.name.endswith(".partial") for d in dest.iterdir() for p in d.iterdir()):
                proc.send_signal(HARD_KILL)
                killed = True
                break
            time.sleep(0.001)
        proc.wait()
        if killed:
            break
    assert killed, "could not catch the archive in the middle of a copy"
    folder = next(dest.iterdir())
    assert not (folder / "manifest.json").exists()  # nothing claimed as archived yet
    r = create(ppe, dest, key)
    assert r.code == 0, r.err
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]
    code, result = verify(ppe, folder)
    assert code == 0 and result["files"] == 2


@pytest.mark.skipif(sys.platform != "linux" or not IS_ROOT, reason="mounting a small filesystem needs Linux and root (CI runs as root)")
def test_destination_too_small(ppe, env):
    tmp, key = env
    small = tmp / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        r = create(ppe, small, key)
        assert r.code == 3
        assert len(r.err_lines()) == 1 and "not enough space" in r.err and "MiB free" in r.err
        assert not list(small.rglob("manifest.json"))
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_bad_input(ppe, env):
    tmp, key = env
    r = ppe("archive", "create", "--exam", "no-such-exam", "--to", tmp / "usb", "--key", key)
    assert r.code == 2 and len(r.err_lines()) == 1 and "unknown exam id" in r.err
    (tmp / "afile").write_text("x", encoding="utf-8")
    r = ppe("archive", "create", "--exam", "today-math", "--to", tmp / "afile", "--key", key)
    assert r.code == 2 and len(r.err_lines()) == 1 and "is a file" in r.err
    r = ppe("archive", "verify", tmp / "nowhere")
    assert r.code == 2 and len(r.err_lines()) == 1


def test_name_parts_are_safe():
    assert sel.name_part("Коридор 2 этажа") == "koridor-2-etazha"
    assert sel.name_part("../../etc") == "etc"
    assert sel.name_part("Штаб 7777") == "shtab-7777"


def _age(folder, days: int) -> None:
    """Make every segment look recorded `days` ago (name and mtime), as on a machine months later."""
    old = time.time() - days * 86400
    for path in folder.rglob("*.ts"):
        os.utime(path, (old, old))


def test_prune_policy(ppe, env):
    tmp, key = env
    data = tmp / "data"
    segments_before = sorted(data.rglob("*.ts"))
    r = ppe("recordings", "prune", "--json")  # default policy: kept until 1 March next year
    assert r.code == 0 and r.json["delete"] == [] and r.json["dry_run"]
    tomorrow = (datetime.now(TZ) + timedelta(days=1)).date().isoformat()
    r = ppe("recordings", "prune", "--before", tomorrow)
    assert r.code == 2 and "future" in r.err
    today = datetime.now(TZ).date().isoformat()
    _age(data, 0)
    r = ppe("recordings", "prune", "--before", today, "--json")
    assert r.code == 0 and r.json["delete"] == []  # recorded today: not before today
    assert sorted(data.rglob("*.ts")) == segments_before


def test_prune_needs_an_archive_unless_forced(ppe, env, monkeypatch):
    tmp, key = env
    data = tmp / "data"
    assert create(ppe, tmp / "usb", key).code == 0  # corridor and entrance are archived, the room is not
    import ppe_tech.commands.recording as rec
    monkeypatch.setattr(rec, "RECENT_SECONDS", -1)
    from ppe_tech.timeutil import utc_now
    later = utc_now() + timedelta(days=400)
    from ppe_tech import app as app_module
    monkeypatch.setattr(app_module.App, "now_local", lambda self: later.astimezone(self.tz))
    r = ppe("recordings", "prune", "--json")
    assert r.code == 0 and r.json["dry_run"]
    doomed = r.json["delete"]
    assert doomed and all(("corr-1" in p or "ent-1" in p) for p in doomed)
    assert r.json["kept_unarchived"] and all(("room-1" in p or "room-2" in p) for p in r.json["kept_unarchived"])
    assert all(os.path.exists(p) for p in doomed)  # a dry run deletes nothing
    r = ppe("recordings", "prune", "--yes", "--key", key, "--json")
    assert r.code == 0 and not any(os.path.exists(p) for p in doomed)
    assert all(os.path.exists(p) for p in r.json["kept_unarchived"])
    entry = ppe("journal", "list", "--json").json["entries"][-1]
    assert entry["action"].startswith("Удаление видеозаписей")
    from templates.render import plural_ru
    assert plural_ru(len(doomed), "файл", "файла", "файлов") in entry["action"]  # «4 файла», never «4 файлов»
    r = ppe("recordings", "prune", "--yes", "--force", "--key", key, "--json")
    assert r.code == 0 and not list(data.rglob("room-1_*.ts")) and not list(data.rglob("room-2_*.ts"))


def test_source_failing_mid_copy_becomes_a_gap(ppe, env, monkeypatch):
    """A medium error while copying a segment (its probe was fine): the run is split there."""
    from video import archive as arc

    tmp, key = env
    assert ppe("recordings", "list").code == 0  # the segments are probed and indexed before the fault
    recorded = sorted((tmp / "data" / "recordings" / "corr-1").glob("*.ts"))
    assert len(recorded) >= 3
    victim = str(recorded[1])

    class Failing(arc.Source):  # the medium fails after the first read of the victim
        def readinto(self, buffer):
            if self.name == victim and self.offset > 0:
                raise OSError(errno.EIO, "Input/output error")
            return super().readinto(memoryview(buffer)[:1000 * 188])

    original = arc.open_source
    monkeypatch.setattr(arc, "open_source", Failing)
    r = create(ppe, tmp / "usb", key)
    assert r.code == 1 and r.json["unreadable"] == [victim], r.out + r.err
    corr = sorted(f["path"] for f in r.json["files"] if f["camera"] == "corr-1")
    assert len(corr) == 2 and {f["camera"] for f in r.json["files"]} == {"corr-1", "ent-1"}
    assert any(g["camera"] == "corr-1" for g in r.json["gaps"])  # the lost segment is reported as a gap
    assert not list((tmp / "usb").rglob("*.partial"))
    monkeypatch.setattr(arc, "open_source", original)  # the data dir (the journal at hand) stays
    code, result = verify(ppe, r.json["dir"])
    assert code == 0 and result["files"] == 3, result


def test_unreadable_source_is_reported_and_the_rest_archived(ppe, env):
    tmp, key = env
    victim = sorted((tmp / "data" / "recordings" / "corr-1").glob("*.ts"))[1]
    victim.write_bytes(b"\x00" * 4096)  # a segment destroyed on the recorder's disk
    r = create(ppe, tmp / "usb", key)
    assert r.code == 1  # the archive is not complete, and says so
    assert r.json["unreadable"] == [str(victim)]
    assert {f["camera"] for f in r.json["files"]} == {"corr-1", "ent-1"}  # the rest is archived
    corr = [f for f in r.json["files"] if f["camera"] == "corr-1"]
    assert len(corr) == 2  # the lost segment is a gap: the run is split
    code, result = verify(ppe, r.json["dir"])
    assert code == 0
    assert victim.exists()  # sources are never deleted


def test_the_act_shows_each_gap_in_its_files_row_and_in_minutes_and_seconds():
    from ppe_tech.commands.archive import gaps_of_file
    from templates.render import duration_ru

    assert duration_ru(892) == "14 мин 52 с" and duration_ru(45) == "45 с" and duration_ru(3725) == "1 ч 2 мин 5 с"
    assert duration_ru(3600) == "1 ч" and duration_ru(0) == "0 с"
    from templates.render import plural_ru

    forms = ("файл", "файла", "файлов")
    assert [plural_ru(n, *forms) for n in (1, 3, 5, 11, 12, 21, 22, 25, 101, 111)] == [
        "1 файл", "3 файла", "5 файлов", "11 файлов", "12 файлов", "21 файл", "22 файла", "25 файлов", "101 файл",
        "111 файлов"]
    at = lambda hms: f"2026-06-01T{hms}+03:00"  # noqa: E731
    files = [{"camera": "corr-1", "start": at("09:00:05"), "end": at("10:41:07")},
             {"camera": "corr-1", "start": at("10:58:30"), "end": at("14:55:00")},
             {"camera": "ent-1", "start": at("09:00:00"), "end": at("14:55:00")}]
    gaps = [{"camera": "corr-1", "start": at("09:00:00"), "end": at("09:00:05"), "seconds": 5},
            {"camera": "corr-1", "start": at("10:41:07"), "end": at("10:58:30"), "seconds": 1043},
            {"camera": "ent-1", "start": at("11:00:00"), "end": at("11:00:04"), "seconds": 4}]
    rows = [gaps_of_file(f, gaps) for f in files]
    assert rows[0] == gaps[:2] and rows[1] == [gaps[1]] and rows[2] == [gaps[2]]
    shown = [g for row in rows for g in row]
    assert all(g in shown for g in gaps)  # every gap of the paragraph stands in some row


def test_the_passphrase_is_asked_once_before_the_copy(ppe, env, monkeypatch):
    """Issue 14.2: an unattended copy of hours must not wait at a second prompt after it."""
    import ppe_tech.app as app_module

    tmp, key = env
    monkeypatch.delenv("PPE_TECH_PASSPHRASE")
    asked = []
    copied_before_prompt = []

    def prompt(what, confirm):
        copied_before_prompt.append(any((tmp / "usb").rglob("*.mp4")) if (tmp / "usb").exists() else False)
        asked.append(what)
        return PASSPHRASE

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(app_module, "_prompt", prompt)
    monkeypatch.setattr(sys, "stdin", Terminal())
    r = create(ppe, tmp / "usb", key)
    assert r.code == 0, r.err
    assert len(asked) == 1 and copied_before_prompt == [False], asked
    entries = ppe("journal", "list", "--json").json["entries"]
    assert entries[-1]["action"] == "Копирование видеозаписей" and entries[-1]["number"] == r.json["journal_entry"]


# -- trust and links: what `archive verify` must never pass -----------------------------------------

def _resign(folder, manifest, keys_dir, key_id, passphrase=PASSPHRASE):
    """Rewrite manifest.json, SHA256SUMS and manifest.sig as a forger with key `key_id` would."""
    from journal import keystore
    from ppe_tech import signatures

    raw = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    (folder / "manifest.json").write_bytes(raw)
    (folder / "SHA256SUMS").write_text(arc.sums_text([(f["name"], f["sha256"]) for f in manifest["files"]]),
                                       encoding="utf-8")
    key = keystore.find_key_file(keys_dir, key_id)
    (folder / "manifest.sig").write_bytes(signatures.signature_doc(key, keystore.load_signer(key, passphrase), raw))


def test_a_forged_archive_resigned_by_a_new_key_fails_with_or_without_the_journal(ppe, made, tmp_path, monkeypatch):
    """The video cut to 1 MB, the manifest and sums rewritten, re-signed by a key made for it."""
    import hashlib

    real_data = os.environ["PPE_TECH_DATA"]
    monkeypatch.setenv("PPE_TECH_DATA", str(tmp_path / "forger"))
    forger = ppe("keys", "create", "--name", "Подделкин", "--position", "никто", "--json").json["key_id"]
    manifest = json.loads((made / "manifest.json").read_text(encoding="utf-8"))
    victim = made / manifest["files"][0]["name"]
    victim.write_bytes(victim.read_bytes()[: 1 << 20])
    manifest["files"][0].update(bytes=victim.stat().st_size, sha256=hashlib.sha256(victim.read_bytes()).hexdigest())
    _resign(made, manifest, tmp_path / "forger" / "keys", forger)
    for data_dir in (tmp_path / "nowhere", real_data):  # no journal at hand (the region), the ППЭ's own
        monkeypatch.setenv("PPE_TECH_DATA", str(data_dir))
        r = ppe("archive", "verify", made, "--json")
        assert r.code == 1 and r.json["signature"] == "unknown key", (data_dir, r.out)
        assert r.json["signer"]["key_id"] == forger
        assert any(r.json["signer"]["fingerprint"] in p for p in r.json["problems"])
    human = ppe("archive", "verify", made)
    assert "SHA256:" in human.out and "unknown key" in human.out


def test_without_the_journal_the_signer_is_trusted_only_through_trust(ppe, made, tmp_path, monkeypatch, env):
    _tmp, key = env
    bundle = tmp_path / "keys.json"
    assert ppe("keys", "export", bundle).code == 0
    monkeypatch.setenv("PPE_TECH_DATA", str(tmp_path / "elsewhere"))  # the regional centre: no journal of this ППЭ
    r = ppe("archive", "verify", made, "--json")
    assert r.code == 1 and r.json["signature"] == "unknown key" and r.json["signer"]["key_id"] == key
    r = ppe("archive", "verify", made, "--trust", bundle, "--json")
    assert r.code == 0 and r.json["ok"] and r.json["signature"] == "valid", r.out
    act = subprocess.run([host_tool("pdftotext"), str(made / "act.pdf"), "-"], capture_output=True, text=True).stdout
    assert r.json["signer"]["fingerprint"] in " ".join(act.split())  # the paper shows what verify compares
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    r = ppe("archive", "verify", made, "--trust", tmp_path / "bad.json")
    assert r.code == 2 and len(r.err_lines()) == 1


def test_a_video_replaced_by_a_link_is_not_the_file(ppe, made, tmp_path):
    victim = sorted(p for p in made.iterdir() if p.suffix == ".ts")[0]
    copy = tmp_path / "outside.ts"
    shutil.copy(victim, copy)
    victim.unlink()
    symlink(victim, copy)  # same bytes, same hash: still not the archive's file
    code, result = verify(ppe, made)
    assert code == 1 and result["mismatched"] == [victim.name], result


@pytest.mark.parametrize("kind", ["hidden file", "link", "dangling link", "fifo", "folder", "link to a folder",
                                  "partial"])
def test_anything_unlisted_is_extra(ppe, made, kind, tmp_path):
    name = {"hidden file": ".hidden", "partial": ".x.ts.partial"}.get(kind, f"extra-{kind.replace(' ', '-')}")
    path = made / name
    if kind in ("hidden file", "partial"):
        path.write_bytes(b"x")
    elif kind == "link":
        symlink(path, made / "manifest.json")
    elif kind == "dangling link":
        symlink(path, tmp_path / "nowhere")
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip(WINDOWS_NO_FIFOS)
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        symlink(path, tmp_path)
    code, result = verify(ppe, made)
    assert code == 1 and result["extra"] == [name], result


@pytest.mark.parametrize("sums", ["", "../../etc/passwd", "garbage line", "bytes"])
def test_emptied_or_extended_sha256sums_fails(ppe, made, sums):
    path = made / "SHA256SUMS"
    if sums == "":
        path.write_bytes(b"")
    elif sums == "bytes":
        path.write_bytes(path.read_bytes() + b"\xff\xfe not utf-8\n")
    elif sums == "garbage line":
        path.write_text(path.read_text() + "garbage\n")
    else:
        path.write_text(path.read_text() + f"{'0' * 64}  {sums}\n")
    code, result = verify(ppe, made)
    assert code == 1 and result["problems"], result
    assert all(p.startswith("SHA256SUMS") for p in result["problems"]), result


def test_an_archive_interrupted_before_the_act_is_not_complete(ppe, made):
    (made / "act.pdf").unlink()
    code, result = verify(ppe, made)
    assert code == 1 and any("act.pdf" in p for p in result["problems"]), result


@pytest.mark.skipif(sys.platform != "linux" or not IS_ROOT, reason="mounting a small filesystem needs Linux and root (CI runs as root)")
def test_disk_full_during_copy_is_named_and_the_rerun_works(ppe, env, monkeypatch):
    """The space check passed, then the disk filled (another writer): the error says the disk is
    full and how much is needed, nothing half-written stays, and the same command works once
    there is room."""
    tmp, key = env
    small = tmp / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        real_free = arc.disk_free
        monkeypatch.setattr(arc, "disk_free", lambda path: 1 << 40)
        r = create(ppe, small, key)
        assert r.code == 3, r.err
        assert len(r.err_lines()) == 1 and "full" in r.err and "MiB more are needed" in r.err, r.err
        assert "internal error" not in r.err
        assert not list(small.rglob("*.partial")) and not list(small.rglob("manifest.json"))
        (next(small.iterdir()) / ".stale.ts.partial").write_bytes(b"x" * 1000)  # as a SIGKILL leaves one
        monkeypatch.setattr(arc, "disk_free", real_free)
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)  # space freed
        r = create(ppe, small, key)
        assert r.code == 0, r.err
        assert not list(small.rglob("*.partial"))
        code, result = verify(ppe, r.json["dir"])
        assert code == 0, result
    finally:
        subprocess.run(["umount", str(small)], check=True)
def offline_config(config, tmp):
    """The same ППЭ with room 0102 not broadcast online (its recording goes to the portal)."""
    text = config.read_text(encoding="utf-8").replace('room = "0102"\n', 'room = "0102"\nbroadcast = "offline"\n')
    path = tmp / "offline.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_offline_rooms_are_archived_online_rooms_are_not(ppe, env, recorded, monkeypatch):
    tmp, key = env
    monkeypatch.setenv("PPE_TECH_CONFIG", str(offline_config(recorded[1], tmp)))
    r = create(ppe, tmp / "usb", key)
    assert r.code == 0, r.err
    assert {f["camera"] for f in r.json["files"]} == {"corr-1", "ent-1", "room-2"}  # room-1 is online: not taken
    from pathlib import Path
    folder = Path(r.json["dir"])
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    kinds = {f["camera"]: (f["kind"], f["broadcast"]) for f in manifest["files"]}
    assert kinds == {"corr-1": ("коридор", None), "ent-1": ("вход", None), "room-2": ("офлайн-аудитория", "offline")}
    assert manifest["selection"] == {"how": "portal", "cameras": ["corr-1", "ent-1", "room-2"], "fragment": False,
                                     "reason": None}
    act = subprocess.run([host_tool("pdftotext"), "-layout", str(folder / "act.pdf"), "-"], capture_output=True,
                         text=True).stdout
    assert "коридоры, вход и офлайн-аудитории" in act and "Вид записи" in act
    assert "офлайн-аудитория" in act and "коридор" in act and shows_room(act, "0102") and not shows_room(act, "0101")
    assert "room-1" not in act
    # the day's plan names the offline rooms in its archive step
    plan = ppe("exam", "plan", "--json")
    step = next(s for s in plan.json["steps"] if s["step"] == "archive")
    assert step["state"] == "done" and "0102" in step["title"] and "0101" not in step["title"]
    # a broadcast setting on a corridor camera is a config mistake, with its line
    bad = offline_config(recorded[1], tmp).read_text(encoding="utf-8").replace(
        'room = "вход"\n', 'room = "вход"\nbroadcast = "offline"\n')
    (tmp / "bad.toml").write_text(bad, encoding="utf-8")
    r = ppe("--config", tmp / "bad.toml", "archive", "create", "--exam", "today-math", "--to", tmp / "usb2",
            "--key", key)
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if text == 'broadcast = "offline"')
    assert r.code == 2 and f"bad.toml:{line}: cameras[2].broadcast: broadcast applies to auditorium cameras" in r.err


def test_a_fragment_of_an_online_room(ppe, env):
    """An online room whose broadcast dropped: its recording for that span, with an act that says so."""
    tmp, key = env
    listed = ppe("recordings", "list", "--json")
    assert listed.code == 0, listed.err
    segs = [s for s in listed.json["segments"] if s["camera"] == "room-1" and s.get("start")]
    first = min(datetime.fromisoformat(s["start"]) for s in segs)
    last = max(datetime.fromisoformat(s["end"]) for s in segs)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)  # a window is HH:MM-HH:MM on the exam's day
    opens, closes = max(first - timedelta(minutes=1), day), min(last + timedelta(minutes=2), day.replace(hour=23, minute=59))
    window = f"{opens:%H:%M}-{closes:%H:%M}"
    r = create(ppe, tmp / "usb", key, "--cameras", "room-1", "--window", window)
    assert r.code == 2 and "--window needs --reason" in r.err and len(r.err_lines()) == 1
    r = create(ppe, tmp / "usb", key, "--cameras", "room-1", "--window", window, "--reason",
               "перерыв онлайн-трансляции по данным РЦОИ")
    assert r.code == 0, r.err
    assert {f["camera"] for f in r.json["files"]} == {"room-1"}
    from pathlib import Path
    folder = Path(r.json["dir"])
    assert folder.name.endswith(f"_today-math_fragment-{window.replace(':', '')}_room-1"), folder.name
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["selection"]["fragment"] is True and manifest["files"][0]["kind"] == "онлайн-аудитория (фрагмент)"
    assert manifest["exam"]["window"]["from"].endswith(window[:5] + ":00")
    act = subprocess.run([host_tool("pdftotext"), str(folder / "act.pdf"), "-"], capture_output=True, text=True).stdout
    start, end = window.split("-")
    assert f"фрагмент записи камер room-1 с {start} по {end}" in " ".join(act.split())
    assert "перерыв онлайн-трансляции по данным РЦОИ" in " ".join(act.split())
    assert ppe("archive", "verify", folder).code == 0
    # a fragment is not the exam's archive: the plan still waits for that one
    plan = ppe("exam", "plan", "--json")
    assert next(s for s in plan.json["steps"] if s["step"] == "archive")["state"] != "done"
    # bad fragments are one clear line, exit 2
    for args, needle in ((("--cameras", "nope", "--window", window, "--reason", "x"), "unknown camera 'nope'"),
                         (("--cameras", "room-1", "--window", "10:40-10:15", "--reason", "x"), "expected HH:MM-HH:MM"),
                         (("--cameras", "room-1", "--window", "25:00-26:00", "--reason", "x"), "expected HH:MM-HH:MM"),
                         (("--cameras", "room-1", "--locations", "corridor"), "give one of them")):
        r = create(ppe, tmp / "usb", key, *args)
        assert r.code == 2 and needle in r.err and len(r.err_lines()) == 1, (args, r.err)
