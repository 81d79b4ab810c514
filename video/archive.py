"""The archive pipeline: runs joined, hashed while written, read back, proven, verified.

Each run (see `video/archive_select.py`) is joined into one MPEG-TS file: the segments'
bytes one after another, which for MPEG-TS with continuous wall-clock timestamps is a
stream copy (nothing decoded or remuxed); `video/mpegts.py` rewrites the service
description on the way. We hash while writing (read, hash, write in three overlapping
threads), fsync, drop the file from the page cache, read it back from the destination
and compare. Only then is the temporary name replaced by the final one and the file
recorded as verified, so a rerun after an interruption skips it. `SHA256SUMS` lets
`sha256sum -c` check the folder without ppe-tech; `manifest.json` describes every file
and is signed (`manifest.sig`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import re
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ppe_tech.messages import M
from ppe_tech.outputs import write_output
from video import segments
from video.archive_select import Run

CHUNK = 4 << 20
MANIFEST, SIGNATURE, SUMS, STATE = "manifest.json", "manifest.sig", "SHA256SUMS", ".archive-state.json"
FORMAT = "ppe-tech-archive/1"
JOURNALED = ".journal"  # key in the state file: the journal entry of the last copying, and its files


# -- copying with a hash --------------------------------------------------------------------------

COPY_CHUNK = 22 * 47 * 4096  # about 4 MiB: whole 4 KiB blocks (direct I/O) and whole 188-byte TS packets
COPY_BUFFERS = 6


class Source:
    """Sequential reads of one file into caller's buffers: direct I/O where the system
    allows it (no copy through the page cache, a third of the CPU), else buffered."""

    def __init__(self, path: str | Path):
        self.name = str(path)
        self.offset = 0
        self.fd = -1
        self.handle = None
        flag = getattr(os, "O_DIRECT", 0)
        if flag and hasattr(os, "preadv"):
            try:
                self.fd = os.open(path, os.O_RDONLY | flag)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
        if self.fd < 0:
            self.handle = open(path, "rb", buffering=0)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self.handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def readinto(self, buffer) -> int:
        if self.handle is not None:
            n = self.handle.readinto(buffer)
            self.offset += n
            return n
        try:
            n = os.preadv(self.fd, [buffer], self.offset)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            os.close(self.fd)  # direct I/O refused after all: go on buffered from here
            self.fd = -1
            self.handle = open(self.name, "rb", buffering=0)
            self.handle.seek(self.offset)
            n = self.handle.readinto(buffer)
        self.offset += n
        return n

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        elif self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _fill(readinto: Callable, free: queue.Queue, out: queue.Queue, failure: list) -> None:
    """The reading stage of a pipeline: take a free buffer, fill it, pass (buffer, bytes) on;
    None on `out` when the source ends, fails (the error goes to `failure`) or a stage stops
    (a None among the free buffers)."""
    try:
        while not failure:
            buffer = free.get()
            if buffer is None:
                break
            n = readinto(buffer)
            if not n:
                break
            out.put((buffer, n))
    except BaseException as exc:
        failure.append(exc)
    finally:
        out.put(None)


def copy_hashed(readinto: Callable[[memoryview], int], out_path: Path,
                progress: Callable[[int], None] | None = None, *, fsync: bool = True) -> tuple[str, int]:
    """Fill buffers by `readinto`, hash them and write them to `out_path`; fsync.
    Returns (sha256 hex, bytes).

    Three stages in three threads (read, hash, write) passing a small pool of reused,
    page-aligned buffers, so the hashing hides behind the I/O and the data is read once
    and never copied in between. The caller reads the file back.
    """
    import mmap

    buffers = [mmap.mmap(-1, COPY_CHUNK) for _ in range(COPY_BUFFERS)]
    free: queue.Queue = queue.Queue()
    for buffer in buffers:
        free.put(buffer)
    to_hash: queue.Queue = queue.Queue()
    to_write: queue.Queue = queue.Queue()
    failure: list[BaseException] = []
    digest = hashlib.sha256()
    total = 0

    def writer() -> None:
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            with open(os.open(out_path, flags, 0o644), "wb", buffering=0) as handle:  # never through a link
                while True:
                    item = to_write.get()
                    if item is None:
                        break
                    buffer, n = item
                    if not failure:
                        with memoryview(buffer) as whole:
                            view = whole[:n]
                            try:
                                while view:
                                    view = view[handle.write(view):]
                            finally:  # a failed write (a full disk) must not keep the buffer exported
                                view.release()
                    free.put(buffer)
                if fsync and not failure:
                    os.fsync(handle.fileno())
        except BaseException as exc:
            failure.append(exc)
            free.put(None)  # a reader waiting for a buffer must not wait forever
            while to_write.get() is not None:
                pass

    threads = [threading.Thread(target=_fill, args=(readinto, free, to_hash, failure), daemon=True),
               threading.Thread(target=writer, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        while True:
            item = to_hash.get()
            if item is None:
                break
            buffer, n = item
            with memoryview(buffer) as whole:
                digest.update(whole[:n])
            total += n
            to_write.put(item)
            if progress:
                progress(n)
    finally:
        to_write.put(None)
        for thread in threads:
            thread.join()
        for buffer in buffers:
            buffer.close()
    if failure:
        raise failure[0]
    return digest.hexdigest(), total


def file_reader(path: Path) -> tuple[Callable[[memoryview], int], Callable[[], None]]:
    """(readinto, close) over one file, for `copy_hashed`."""
    source = Source(path)
    return source.readinto, source.close


DIRECT_CHUNK = 8 << 20
DIRECT_LANES = 2  # reads in flight per file


def hash_file(path: Path, progress: Callable[[int], None] | None = None, *, uncached: bool = False) -> tuple[str, int]:
    """SHA-256 of a file as stored on its medium.

    Where the system allows it (Linux, most file systems) the file is read with O_DIRECT:
    straight from the device into aligned buffers, two reads in flight, nothing copied
    through the page cache. That reads the medium itself (what a verification is for),
    and costs a third of the CPU of buffered reads, which on two cores is what limits
    hashing two files at once. Elsewhere: buffered reads (`uncached` then drops the
    file from the page cache first).
    """
    flag = getattr(os, "O_DIRECT", 0)
    if flag:
        try:
            fd = os.open(path, os.O_RDONLY | flag | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: this file system does not do direct I/O
                raise
        else:
            try:
                return _hash_direct(fd, progress)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
            finally:
                os.close(fd)
    return _hash_buffered(path, progress, uncached=uncached)


def _hash_direct(fd: int, progress: Callable[[int], None] | None) -> tuple[str, int]:
    import mmap

    size = os.fstat(fd).st_size
    chunks = (size + DIRECT_CHUNK - 1) // DIRECT_CHUNK
    free = [queue.Queue() for _ in range(DIRECT_LANES)]
    full = [queue.Queue() for _ in range(DIRECT_LANES)]
    buffers = [mmap.mmap(-1, DIRECT_CHUNK) for _ in range(2 * DIRECT_LANES)]  # page-aligned, as O_DIRECT needs
    for k, buffer in enumerate(buffers):
        free[k % DIRECT_LANES].put(buffer)
    stop = threading.Event()

    def reader(lane: int) -> None:
        try:
            for k in range(lane, chunks, DIRECT_LANES):
                buffer = free[lane].get()
                if stop.is_set():
                    break
                n = os.preadv(fd, [buffer], k * DIRECT_CHUNK)
                full[lane].put((buffer, n, None))
        except BaseException as exc:
            full[lane].put((None, 0, exc))
    threads = [threading.Thread(target=reader, args=(lane,), daemon=True) for lane in range(DIRECT_LANES)]
    for thread in threads:
        thread.start()
    digest = hashlib.sha256()
    total = 0
    try:
        for k in range(chunks):
            lane = k % DIRECT_LANES
            buffer, n, failure = full[lane].get()
            if failure is not None:
                raise failure
            with memoryview(buffer) as view:
                digest.update(view[:n])
            total += n
            free[lane].put(buffer)
            if progress:
                progress(n)
            if n < DIRECT_CHUNK and k < chunks - 1:
                raise ArchiveError(M("short read at {at} of {size} bytes", at=k * DIRECT_CHUNK + n, size=size))
    finally:
        stop.set()
        for lane in range(DIRECT_LANES):
            free[lane].put(buffers[0])  # wake a reader waiting for a buffer
        for thread in threads:
            thread.join()
        for buffer in buffers:
            buffer.close()
    if total != size:
        raise ArchiveError(M("read {total} of {size} bytes", total=total, size=size))
    return digest.hexdigest(), total


def _hash_buffered(path: Path, progress: Callable[[int], None] | None = None, *,
                   uncached: bool = False) -> tuple[str, int]:
    """A reader thread fills reused buffers while this one hashes (a fresh 4 MiB `bytes`
    per read would cost page faults and zeroing)."""
    free: queue.Queue = queue.Queue()
    for _ in range(3):
        free.put(bytearray(CHUNK))
    full: queue.Queue = queue.Queue()
    failure: list[BaseException] = []
    digest = hashlib.sha256()
    total = 0
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            if uncached:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)

        thread = threading.Thread(target=_fill, args=(handle.readinto, free, full, failure), daemon=True)
        thread.start()
        while True:
            item = full.get()
            if item is None:
                break
            buffer, n = item
            digest.update(memoryview(buffer)[:n])
            total += n
            free.put(buffer)
            if progress:
                progress(n)
        thread.join()
    if failure:
        raise failure[0]
    return digest.hexdigest(), total


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArchiveError(Exception):
    def __init__(self, message: str, source: str | None = None):
        super().__init__(message)
        self.source = source  # the unreadable source segment, if that was the cause


def join_to(run: Run, out_path: Path, progress: Callable[[int], None] | None,
            rewrite: Callable[[bytearray, int], None] | None = None) -> tuple[str, int]:
    """Join the run's segments into `out_path`, hashed while written.

    MPEG-TS is made to be joined: every segment starts with its own tables and the
    timestamps run on from one to the next (wall clock), so the run is the segments'
    bytes one after another: a stream copy with nothing decoded, re-encoded or remuxed.
    Each segment is read in whole packets; `rewrite` may patch a chunk in place.
    """
    sources = iter(run.sources)
    current: list = [None]

    def readinto(buffer) -> int:
        while True:
            if current[0] is None:
                seg = next(sources, None)
                if seg is None:
                    return 0
                try:
                    current[0] = open_source(seg.path)
                except OSError as exc:
                    raise ArchiveError(M("cannot read {path}: {error}", path=seg.path, error=exc.strerror),
                                       seg.path) from None
            try:
                n = current[0].readinto(buffer)
            except OSError as exc:
                raise ArchiveError(M("cannot read {path}: {error}", path=current[0].name, error=exc.strerror),
                                   current[0].name) from None
            if n:
                if rewrite is not None:
                    rewrite(buffer, n)
                return n
            current[0].close()
            current[0] = None
    try:
        return copy_hashed(readinto, out_path, progress)
    finally:
        if current[0] is not None:
            current[0].close()


open_source = Source  # how join_to opens a segment (tests put a failing medium here)


@dataclass
class Written:
    name: str
    run: Run
    sha256: str
    bytes: int
    reused: bool


_STATE_LOCK = threading.Lock()


def write_run(folder: Path, name: str, run: Run, state: dict, progress: Callable[[int], None] | None = None,
              rewrite: Callable[[bytearray, int], None] | None = None) -> Written:
    """One archive file: skipped when already verified; else joined, hashed, read back, renamed."""
    final = folder / name
    done = state.get(name)
    if done and final.exists() and final.stat().st_size == done["bytes"]:
        if progress:
            progress(run.bytes)
        return Written(name, run, done["sha256"], done["bytes"], True)
    partial = folder / f".{name}.partial"
    try:
        digest, size = join_to(run, partial, progress, rewrite)
    except BaseException:  # a failed source, a full disk: nothing half-written stays behind
        partial.unlink(missing_ok=True)
        raise
    back, back_size = hash_file(partial, uncached=True)
    if back != digest or back_size != size:
        partial.unlink(missing_ok=True)
        raise ArchiveError(M("{name}: read back from the destination differs from what was written", name=name))
    os.replace(partial, final)
    _fsync_dir(folder)
    with _STATE_LOCK:  # runs are written two at a time
        state[name] = {"sha256": digest, "bytes": size}
        save_state(folder, state)
    return Written(name, run, digest, size, False)


def remove_partials(folder: Path) -> int:
    """Delete what an interrupted run left half-written (`.NAME.partial`); the bytes freed."""
    freed = 0
    for path in folder.glob(".*.partial"):
        try:
            st = path.lstat()
            path.unlink()
            freed += st.st_size
        except OSError:
            continue
    return freed


def load_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(folder: Path, state: dict) -> None:
    write_output(folder / STATE, json.dumps(state).encode("utf-8"))


def sums_text(files: list[tuple[str, str]]) -> str:
    """`sha256sum` format: hash, two spaces, name."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(files))


def free_space_needed(runs: list[Run]) -> int:
    return int(sum(r.bytes for r in runs) * 1.02) + (1 << 20)


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


# -- verification ---------------------------------------------------------------------------------

ACT = "act.pdf"  # written last: an archive without it was interrupted
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Check:
    ok: bool
    files: int
    missing: list[str]
    extra: list[str]
    mismatched: list[str]
    signature: str  # valid | invalid | missing | unknown key
    problems: list  # of Msg
    signer: dict | None = None  # key_id, name, position, fingerprint: what the act shows too

    def as_json(self) -> dict:
        return {"ok": self.ok, "files": self.files, "missing": self.missing, "extra": self.extra,
                "mismatched": self.mismatched, "signature": self.signature, "signer": self.signer,
                "problems": [str(p) for p in self.problems]}


def parse_manifest(data: bytes) -> dict[str, dict]:
    """The files a manifest lists, {name: {"sha256", "bytes", ...}}; ValueError naming what is wrong."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError(M("not JSON")) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ValueError(M("no list of files"))
    listed: dict[str, dict] = {}
    for i, entry in enumerate(manifest["files"]):
        if not isinstance(entry, dict):
            raise ValueError(M("file {n}: not an object", n=i + 1))
        name, digest, size = entry.get("name"), entry.get("sha256"), entry.get("bytes")
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
                or name.startswith(".") or name in RESERVED:
            raise ValueError(M("file {n}: the name must be a plain file name", n=i + 1))
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ValueError(M("{name}: sha256 must be 64 hex digits", name=name))
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(M("{name}: bytes must be a whole number", name=name))
        if name in listed:
            raise ValueError(M("{name} is listed twice", name=name))
        listed[name] = entry
    return listed


def parse_sums(data: bytes) -> dict[str, str]:
    """`sha256sum` lines, {name: hex}; ValueError on a line that is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(M("not UTF-8 text")) from None
    sums: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition(" ")
        name = name[1:] if name[:1] in (" ", "*") else name
        if not sep or not _HEX64.fullmatch(digest) or not name:
            raise ValueError(M("line {n} is not 'SHA-256, two spaces, name'", n=n))
        if name in sums:
            raise ValueError(M("{name} is listed twice", name=name))
        sums[name] = digest
    return sums


RESERVED = (MANIFEST, SIGNATURE, SUMS, STATE, ACT)


def verify(folder: Path, check_signature: Callable[[bytes], "object"],
           progress: Callable[[int], None] | None = None, workers: int = 2) -> Check:
    """Presence, extra entries, sizes, hashes (files hashed in parallel), SHA256SUMS against the
    manifest, the act, and the manifest's signer (`check_signature(bytes)` -> signatures.Signer).

    Only regular files count: a link is never taken as the file it points to, and anything
    the manifest does not list (hidden files, links, FIFOs, folders) is extra."""
    from concurrent.futures import ThreadPoolExecutor

    from ppe_tech.signatures import read_regular

    problems: list = []  # of Msg: shown in the chosen language
    try:
        manifest_bytes = read_regular(folder / MANIFEST)
        listed = parse_manifest(manifest_bytes)
    except OSError:
        return Check(False, 0, [MANIFEST], [], [], "missing",
                     [M("{file} is missing or not a regular file", file=MANIFEST)])
    except ValueError as exc:
        return Check(False, 0, [], [], [MANIFEST], "invalid", [M("{file}: {why}", file=MANIFEST, why=exc.args[0])])
    signer = check_signature(manifest_bytes)
    signature = signer.state
    if signature == "unknown key":
        problems.append(M("{file}: signed by an unknown key {fingerprint} ({key_id}, {name}): not in the journal "
                          "here nor in --trust FILE", file=MANIFEST, fingerprint=signer.fingerprint,
                          key_id=signer.key_id, name=signer.name or "?"))
    elif signature != "valid":
        problems.append(M("{file}: signature {state}", file=MANIFEST, state=signature))
    entries: dict[str, os.stat_result] = {}
    with os.scandir(folder) as it:
        for entry in it:
            entries[entry.name] = entry.stat(follow_symlinks=False)
    regular = {name for name, st in entries.items() if stat.S_ISREG(st.st_mode)}
    try:
        sums = parse_sums(read_regular(folder / SUMS))
        for name in sorted(set(sums) - set(listed)):
            problems.append(M("{sums} lists {name}, which {manifest} does not", sums=SUMS, name=name,
                              manifest=MANIFEST))
        for name, entry in listed.items():
            if sums.get(name) != entry["sha256"]:
                problems.append(M("{sums} and {manifest} disagree about {name}", sums=SUMS, manifest=MANIFEST,
                                  name=name))
    except OSError:
        problems.append(M("{file} is missing or not a regular file", file=SUMS))
    except ValueError as exc:
        problems.append(M("{file}: {why}", file=SUMS, why=exc.args[0]))
    if ACT not in regular:
        problems.append(M("{file} is missing: the archive was not finished", file=ACT))
    missing = sorted(n for n in listed if n not in entries)
    mismatched = sorted(n for n in listed if n in entries and n not in regular)
    problems += [M("{name}: not a regular file (a link is never taken as the file)", name=n) for n in mismatched]
    proof = {MANIFEST, SIGNATURE, SUMS, ACT} | ({STATE} if STATE in regular else set())
    extra = sorted(n for n in entries if n not in listed and not (n in proof and n in regular))

    def check_one(name: str) -> tuple[str, M | None]:
        entry = listed[name]
        size = entries[name].st_size
        if size != entry["bytes"]:
            return name, M("{name}: size {size}, expected {want}", name=name, size=size, want=entry["bytes"])
        digest, _size = hash_file(folder / name, progress)
        return name, None if digest == entry["sha256"] else M("{name}: SHA-256 differs", name=name)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, problem in pool.map(check_one, sorted(n for n in listed if n in regular)):
            if problem:
                mismatched.append(name)
                problems.append(problem)
    problems += [M("{name}: missing", name=n) for n in missing] + \
        [M("{name}: not in the manifest", name=n) for n in extra]
    ok = not (missing or extra or mismatched or problems)
    return Check(ok, len(listed), missing, extra, sorted(mismatched), signature, problems,
                 signer.as_json() if signer.key_id else None)
