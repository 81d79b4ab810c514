"""Result files: the one safe writer for every `--out`, `--pdf`, act and report.

An output is written to a new temporary file in the same folder and renamed onto its
name once complete and fsynced; a link, a device, a FIFO or a folder at the name is
refused (bad input, exit 2), never replaced or written through.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.winacl import make_private


def check_output(path: Path) -> Path:
    """Refuse (bad input, exit 2) an output path that is not, or could not become, a regular
    file: a link, a device, a FIFO, a folder, or a file in a folder that does not exist.
    Commands call it before any work, so nothing is recorded for a result that cannot be kept."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BadInput(_("cannot use {path} as output: {error}").format(path=path, error=exc.strerror)) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BadInput(_("{path} is a folder; give a file name").format(path=path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = _("a link") if stat.S_ISLNK(st.st_mode) else _("a device or other special file")
        raise BadInput(_("{path} is {kind}: an output is written only to a regular file, never through "
                         "or over a link or a device").format(path=path, kind=kind))
    parent = path.parent
    if not parent.is_dir():
        raise BadInput(_("folder {path} does not exist").format(path=parent))
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_output(path: Path, *, mode: int = 0o644) -> Iterator[Path]:
    """The one way a result file is written: a new temporary file beside `path` (created
    exclusively, never through a link); on success it is fsynced and renamed onto `path`.

    A reader never sees a half-written file under the final name, a failure leaves whatever
    was there before, and a link, a device or a FIFO at `path` is refused (exit 2), never
    replaced or written through.
    """
    path = check_output(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise EnvironmentFailure(_("cannot write {path}: {error}").format(path=path, error=exc.strerror)) from None
    os.close(fd)
    tmp = Path(name)
    try:
        if sys.platform == "win32" and not mode & 0o077:
            make_private(tmp)  # a private file on Windows: an ACL of the current user alone, before it is written
        yield tmp
        flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(tmp, flags)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BadInput(_("{path} was replaced while it was written").format(path=tmp))
            if os.name == "posix":
                os.fchmod(fd, mode & ~_umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        check_output(path)  # again, just before the rename: nothing slipped a link in meanwhile
        replace(tmp, path)
    except OSError as exc:
        raise EnvironmentFailure(_("cannot write {path}: {error}").format(
            path=path, error=describe_os_error(exc))) from None
    finally:
        tmp.unlink(missing_ok=True)


# How long replace() keeps trying while a reader holds the target open on Windows: a reader
# (`cameras status`, a test, an antivirus scanning the new file) keeps it open for milliseconds.
REPLACE_PATIENCE = 2.0


def replace(src: Path | str, dst: Path | str, *, patience: float = REPLACE_PATIENCE) -> None:
    """os.replace(src, dst), atomic as always; on Windows, tried again for up to `patience`
    seconds while it is refused because another process has `dst` open (Windows will not
    replace a file opened without FILE_SHARE_DELETE, which is how Python and most programs
    open files): the state file that `cameras status` reads while the recorder rewrites it."""
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if sys.platform != "win32" or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def describe_os_error(exc: OSError) -> str:
    """The cause of a failed write in words: 'the disk is full', 'read-only file system', ..."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return _("the disk is full")
    return exc.strerror or str(exc)


def write_output(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write a result file atomically (see `atomic_output`)."""
    with atomic_output(path, mode=mode) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
