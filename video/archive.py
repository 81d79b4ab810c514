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
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ppe_tech.messages import M
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
            with open(out_path, "wb", buffering=0) as handle:
                while True:
                    item = to_write.get()
                    if item is None:
                        break
                    buffer, n = item
                    if not failure:
                        with memoryview(buffer) as whole:
                            view = whole[:n]
                            while view:
                                view = view[handle.write(view):]
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
            fd = os.open(path, os.O_RDONLY | flag)
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
    except ArchiveError:
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


def load_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_state(folder: Path, state: dict) -> None:
    tmp = folder / f"{STATE}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / STATE)


def sums_text(files: list[tuple[str, str]]) -> str:
    """`sha256sum` format: hash, two spaces, name."""
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(files))


def free_space_needed(runs: list[Run]) -> int:
    return int(sum(r.bytes for r in runs) * 1.02) + (1 << 20)


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


# -- verification ---------------------------------------------------------------------------------

@dataclass
class Check:
    ok: bool
    files: int
    missing: list[str]
    extra: list[str]
    mismatched: list[str]
    signature: str  # valid | invalid | missing | unknown key
    problems: list  # of Msg

    def as_json(self) -> dict:
        return {"ok": self.ok, "files": self.files, "missing": self.missing, "extra": self.extra,
                "mismatched": self.mismatched, "signature": self.signature,
                "problems": [str(p) for p in self.problems]}


def verify(folder: Path, check_signature: Callable[[bytes, dict], str],
           progress: Callable[[int], None] | None = None, workers: int = 2) -> Check:
    """Presence, extra files, sizes, hashes (files hashed in parallel) and the manifest's signature."""
    from concurrent.futures import ThreadPoolExecutor

    problems: list = []  # of Msg: shown in the chosen language
    try:
        manifest_bytes = (folder / MANIFEST).read_bytes()
        manifest = json.loads(manifest_bytes)
        listed = {f["name"]: f for f in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return Check(False, 0, [MANIFEST], [], [], "missing", [M("{file} is missing or unreadable", file=MANIFEST)])
    signature = check_signature(manifest_bytes, manifest)
    if signature != "valid":
        problems.append(M("{file}: signature {state}", file=MANIFEST, state=signature))
    sums: dict[str, str] = {}
    try:
        for line in (folder / SUMS).read_text(encoding="utf-8").splitlines():
            digest, _sep, name = line.partition("  ")
            sums[name] = digest
    except OSError:
        problems.append(M("{file} is missing", file=SUMS))
    for name, entry in listed.items():
        if sums and sums.get(name) != entry["sha256"]:
            problems.append(M("{sums} and {manifest} disagree about {name}", sums=SUMS, manifest=MANIFEST, name=name))
    present = {p.name for p in folder.iterdir() if p.is_file()}
    allowed = set(listed) | {MANIFEST, SIGNATURE, SUMS, STATE, "act.pdf"}
    missing = sorted(n for n in listed if n not in present)
    extra = sorted(n for n in present - allowed if not n.startswith("."))
    partials = sorted(n for n in present if n.endswith(".partial"))
    extra += partials

    def check_one(name: str) -> tuple[str, M | None]:
        entry = listed[name]
        path = folder / name
        if path.stat().st_size != entry["bytes"]:
            return name, M("{name}: size {size}, expected {want}", name=name, size=path.stat().st_size,
                           want=entry["bytes"])
        digest, _size = hash_file(path, progress)
        return name, None if digest == entry["sha256"] else M("{name}: SHA-256 differs", name=name)
    mismatched = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, problem in pool.map(check_one, [n for n in listed if n in present]):
            if problem:
                mismatched.append(name)
                problems.append(problem)
    problems += [M("{name}: missing", name=n) for n in missing] + \
        [M("{name}: not in the manifest", name=n) for n in extra]
    ok = not (missing or extra or mismatched or problems)
    return Check(ok, len(listed), missing, extra, sorted(mismatched), signature, problems)
