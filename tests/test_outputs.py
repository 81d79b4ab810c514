"""Every file a command writes (`--out`, `--pdf`, `keys export`, `init --path`) goes through one
writer: a regular file made atomically, or a refusal (exit 2) that leaves a link, a device,
a FIFO or a folder as it was."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from conftest import WINDOWS_NO_FIFOS, symlink

# (command, the file name it wants); {out} is the path under attack
COMMANDS = [
    ("journal export --format json --out {out}", "export.json"),
    ("journal export --format csv --out {out}", "export.csv"),
    ("journal checkpoint --key {head} --out {out}", "checkpoint.json"),
    ("journal print --out {out}", "journal.pdf"),
    ("check run --only software.required --out {out}", "report.txt"),
    ("check run --only software.required --pdf {out}", "protocol.pdf"),
    ("keys export {out}", "keys.json"),
    ("init --force --path {out}", "ppe-tech.toml"),
]


def _journal_entries(ppe) -> int:
    return ppe("journal", "verify", "--json").json["entries"]


def _device(path):
    """A character device like /dev/null (1, 3), made in the test's own folder; on Windows the
    NUL device, which every folder has (`C:\\any\\NUL`): the path becomes that name."""
    if sys.platform == "win32":
        return path.with_name("NUL")
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return path


def _hostile(tmp, kind: str, name: str):
    """(the path given to --out, a function telling it was left untouched)."""
    victim = tmp / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp / "out" / name
    out.parent.mkdir(exist_ok=True)
    if kind == "link":
        symlink(out, victim)
        return out, lambda: out.is_symlink() and victim.read_text(encoding="utf-8") == "precious\n"
    if kind == "dangling link":
        target = tmp / "nowhere" / "created-through-link"
        symlink(out, target)
        return out, lambda: out.is_symlink() and not target.exists()
    if kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip(WINDOWS_NO_FIFOS)
        os.mkfifo(out)
        return out, lambda: stat.S_ISFIFO(os.lstat(out).st_mode)
    if kind == "device":
        out = _device(out)
        return out, lambda: stat.S_ISCHR(os.lstat(out).st_mode)
    if kind == "folder":
        out.mkdir()
        return out, lambda: out.is_dir() and not any(out.iterdir())
    if kind == "missing folder":
        out = tmp / "unmounted" / name
        return out, lambda: not out.parent.exists()
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["link", "dangling link", "fifo", "device", "folder", "missing folder"])
@pytest.mark.parametrize("command,name", COMMANDS, ids=[c[0].split(" --")[0].replace(" ", "-") + "-" + c[1]
                                                         for c in COMMANDS])
def test_out_never_replaces_a_link_or_a_device(ppe, people, home, command, name, kind):
    ppe("journal", "add", "--room", "0101", "--action", "Проверка", "--key", people["specialist"])
    before = _journal_entries(ppe)
    out, untouched = _hostile(home, kind, name)
    args = command.format(out=out, head=people["head"]).split()
    r = ppe(*args)
    assert r.code == 2, (r.code, r.err)
    assert len(r.err_lines()) == 1, r.err
    assert str(out) in r.err or str(out.parent) in r.err, r.err
    assert untouched(), kind
    assert _journal_entries(ppe) == before  # nothing was journaled for a result that could not be kept
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name] if out.parent.exists() else True


@pytest.mark.parametrize("command,name", COMMANDS, ids=[c[1] for c in COMMANDS])
def test_out_replaces_a_regular_file_atomically(ppe, people, home, command, name):
    out = home / name
    out.write_bytes(b"old\n")
    inode = out.stat().st_ino
    r = ppe(*command.format(out=out, head=people["head"]).split())
    assert r.code in (0, 1), r.err  # check run may find the machine not ready; the file is written anyway
    if name == "protocol.pdf":  # an earlier protocol (perhaps a failed one) is kept: the new one is numbered
        assert out.read_bytes() == b"old\n" and out.stat().st_ino == inode
        out = home / "protocol-2.pdf"
        assert out.read_bytes().startswith(b"%PDF")
    else:
        assert out.read_bytes() != b"old\n" and out.stat().st_ino != inode  # a new file renamed in, not rewritten
    assert stat.S_ISREG(os.lstat(out).st_mode)
    assert not [p for p in home.iterdir() if p.name.startswith(f".{name}.")]


@pytest.mark.skipif(not hasattr(os, "mknod"), reason="/dev/full is Linux's; Windows' NUL is the device case above")
def test_dev_full_is_refused_not_replaced(ppe, people, home):
    """The issue's case: `--out /dev/full` once became a regular file and "success" was printed."""
    device = home / "full"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    r = ppe("journal", "export", "--format", "json", "--out", device)
    assert r.code == 2 and "device" in r.err
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_archive_to_a_missing_folder_needs_mkdir(ppe, people, home):
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\n[[cameras]]\nid = "c1"\nlocation = "corridor"\n'
        'url = "rtsp://127.0.0.1:1/s"\n[[exams]]\nid = "e1"\nstart = "2026-06-01T10:00"\nduration = "1h"\n',
        encoding="utf-8")
    usb = home / "media" / "usb"
    r = ppe("archive", "create", "--exam", "e1", "--to", usb, "--key", people["specialist"])
    assert r.code == 2 and len(r.err_lines()) == 1 and "--mkdir" in r.err, r.err
    assert not usb.exists() and not (home / "media").exists()
    r = ppe("archive", "create", "--exam", "e1", "--to", usb, "--mkdir", "--key", people["specialist"])
    assert "--mkdir" not in r.err  # past that refusal (here: no recordings to archive)


def test_a_state_file_a_reader_holds_open_is_still_replaced(tmp_path):
    """Windows refuses to replace a file another process has open (Python opens files without
    FILE_SHARE_DELETE): the recorder's state.json while `cameras status` reads it. The replace
    waits for the reader to let go, and gives up (the error, not a hang) if it never does."""
    import threading

    from ppe_tech import outputs
    from video.recorder import read_state, write_state

    write_state(tmp_path, {"n": 1})
    reader = open(tmp_path / "state.json", "rb")
    threading.Timer(0.3, reader.close).start()
    write_state(tmp_path, {"n": 2})  # refused while the reader holds it, done once it closes
    assert reader.closed or sys.platform != "win32"
    assert read_state(tmp_path) == {"n": 2}
    new = tmp_path / "new"
    new.write_bytes(b"new")
    with open(tmp_path / "state.json", "rb"):
        if sys.platform == "win32":
            with pytest.raises(PermissionError):
                outputs.replace(new, tmp_path / "state.json", patience=0.2)
        else:
            outputs.replace(new, tmp_path / "state.json", patience=0.2)
    assert read_state(tmp_path) == {"n": 2} if sys.platform == "win32" else (tmp_path / "state.json").read_bytes() == b"new"
