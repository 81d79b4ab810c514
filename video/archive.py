"""The archive of an exam's corridor and entrance recordings, proven complete.

For each camera at the chosen locations, the segments covering the exam window are
grouped into continuous runs (a gap over 2 s starts a new run) and each run is
joined into one MPEG-TS file: the segments' bytes one after another, which for
MPEG-TS with continuous wall-clock timestamps is a stream copy (nothing decoded or
remuxed; the recorder writes region, ППЭ, room and camera into every segment's
service description). We hash while writing (read once, hash, write, in two
overlapping threads), fsync, drop the file from the page cache, read it back from
the destination and compare. Only then is the temporary name replaced by the
final one and the file recorded as verified, so a rerun after an interruption skips
it. `SHA256SUMS` lets `sha256sum -c` check the folder without ppe-tech;
`manifest.json` describes every file and is signed (`manifest.sig`).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

from video import segments

CHUNK = 4 << 20
MANIFEST, SIGNATURE, SUMS, STATE = "manifest.json", "manifest.sig", "SHA256SUMS", ".archive-state.json"
FORMAT = "ppe-tech-archive/1"

_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def name_part(text: str) -> str:
    """Transliterated, lowercase, [a-z0-9-] only: safe on every file system and portal."""
    out = "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum()) else "-" for ch in out)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-") or "x"


@dataclass
class Run:
    """Consecutive segments of one camera with no gap over 2 s between them."""
    camera: str
    room: str
    location: str
    sources: list[segments.SegmentInfo]
    holes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.sources[0].start  # type: ignore[return-value]

    @property
    def end(self) -> float:
        return self.sources[-1].end  # type: ignore[return-value]

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.sources)


def runs_of(camera: str, room: str, location: str, found: list[segments.SegmentInfo], since: float,
            until: float) -> tuple[list[Run], list[segments.SegmentInfo]]:
    """Group readable segments overlapping [since, until] into runs; also the unreadable ones."""
    runs: list[Run] = []
    unreadable = [s for s in found if s.start is None or s.end is None]
    for seg in (s for s in found if s.start is not None and s.end is not None):
        if seg.end <= since or seg.start >= until:  # type: ignore[operator]
            continue
        if runs and seg.start - runs[-1].end <= segments.GAP_SECONDS:  # type: ignore[operator]
            runs[-1].sources.append(seg)
        else:
            runs.append(Run(camera, room, location, [seg]))
        runs[-1].holes.extend(seg.holes)
    return runs, unreadable


def file_name(region: str, ppe: str, run: Run, tz: ZoneInfo) -> str:
    start = datetime.fromtimestamp(run.start, timezone.utc).astimezone(tz)
    end = datetime.fromtimestamp(run.end, timezone.utc).astimezone(tz)
    return (f"{name_part(region or '00')}_{name_part(ppe or '0000')}_{name_part(run.room or run.location)}_"
            f"{name_part(run.camera)}_{start:%Y-%m-%d}_{start:%H%M%S}-{end:%H%M%S}.ts")


def folder_name(region: str, ppe: str, exam_date: str, exam_id: str) -> str:
    return f"{name_part(region or '00')}_{name_part(ppe or '0000')}_{exam_date}_{name_part(exam_id)}"


# -- copying with a hash --------------------------------------------------------------------------

def copy_hashed(read: Callable[[int], bytes], out_path: Path, progress: Callable[[int], None] | None = None,
                *, fsync: bool = True) -> tuple[str, int]:
    """Read chunks, hash them and write them to `out_path`; fsync. Returns (sha256 hex, bytes).

    Three stages in three threads (read, hash, write) joined by small queues, so the
    hashing hides behind the I/O; the data is read once. The caller reads the file back.
    """
    to_hash: queue.Queue = queue.Queue(maxsize=4)
    to_write: queue.Queue = queue.Queue(maxsize=4)
    failure: list[BaseException] = []
    digest = hashlib.sha256()
    total = 0

    def reader() -> None:
        try:
            while not failure:
                chunk = read(CHUNK)
                if not chunk:
                    break
                to_hash.put(chunk)
        except BaseException as exc:
            failure.append(exc)
        finally:
            to_hash.put(None)

    def writer() -> None:
        try:
            with open(out_path, "wb", buffering=0) as handle:
                while True:
                    chunk = to_write.get()
                    if chunk is None:
                        break
                    if failure:
                        continue  # drain
                    view = memoryview(chunk)
                    while view:
                        view = view[handle.write(view):]
                if fsync and not failure:
                    os.fsync(handle.fileno())
        except BaseException as exc:
            failure.append(exc)
            while to_write.get() is not None:
                pass

    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        while True:
            chunk = to_hash.get()
            if chunk is None:
                break
            digest.update(chunk)
            total += len(chunk)
            to_write.put(chunk)
            if progress:
                progress(len(chunk))
    finally:
        to_write.put(None)
        for thread in threads:
            thread.join()
    if failure:
        raise failure[0]
    return digest.hexdigest(), total


def hash_file(path: Path, progress: Callable[[int], None] | None = None, *, uncached: bool = False) -> tuple[str, int]:
    """SHA-256 of a file; a reader thread fills reused buffers while this one hashes.

    `uncached` drops the file from the page cache first, so the medium itself is read.
    Reused buffers matter: a fresh 4 MiB `bytes` per read costs page faults and zeroing.
    """
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

        def reader() -> None:
            try:
                while True:
                    buffer = free.get()
                    n = handle.readinto(buffer)
                    if not n:
                        break
                    full.put((buffer, n))
            except BaseException as exc:
                failure.append(exc)
            finally:
                full.put((None, 0))
        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        while True:
            buffer, n = full.get()
            if buffer is None:
                break
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
    pass


def join_to(run: Run, out_path: Path, progress: Callable[[int], None] | None) -> tuple[str, int]:
    """Join the run's segments into `out_path`, hashed while written.

    MPEG-TS is made to be joined: every segment starts with its own tables and the
    timestamps run on from one to the next (wall clock), so the run is the segments'
    bytes one after another: a stream copy with nothing decoded, re-encoded or remuxed.
    """
    sources = iter(run.sources)
    current: list = [None]

    def read(size: int) -> bytes:
        while True:
            if current[0] is None:
                seg = next(sources, None)
                if seg is None:
                    return b""
                try:
                    current[0] = open(seg.path, "rb", buffering=0)
                    if hasattr(os, "posix_fadvise"):
                        os.posix_fadvise(current[0].fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
                except OSError as exc:
                    raise ArchiveError(f"cannot read {seg.path}: {exc.strerror}") from None
            try:
                chunk = current[0].read(size)
            except OSError as exc:
                raise ArchiveError(f"cannot read {current[0].name}: {exc.strerror}") from None
            if chunk:
                return chunk
            current[0].close()
            current[0] = None
    try:
        return copy_hashed(read, out_path, progress)
    finally:
        if current[0] is not None:
            current[0].close()


@dataclass
class Written:
    name: str
    run: Run
    sha256: str
    bytes: int
    reused: bool


_STATE_LOCK = threading.Lock()


def write_run(folder: Path, name: str, run: Run, state: dict,
              progress: Callable[[int], None] | None = None) -> Written:
    """One archive file: skipped when already verified; else joined, hashed, read back, renamed."""
    final = folder / name
    done = state.get(name)
    if done and final.exists() and final.stat().st_size == done["bytes"]:
        if progress:
            progress(run.bytes)
        return Written(name, run, done["sha256"], done["bytes"], True)
    partial = folder / f".{name}.partial"
    try:
        digest, size = join_to(run, partial, progress)
    except ArchiveError:
        partial.unlink(missing_ok=True)
        raise
    back, back_size = hash_file(partial, uncached=True)
    if back != digest or back_size != size:
        partial.unlink(missing_ok=True)
        raise ArchiveError(f"{name}: read back from the destination differs from what was written")
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
    problems: list[str]

    def as_json(self) -> dict:
        return {"ok": self.ok, "files": self.files, "missing": self.missing, "extra": self.extra,
                "mismatched": self.mismatched, "signature": self.signature, "problems": self.problems}


def verify(folder: Path, check_signature: Callable[[bytes, dict], str],
           progress: Callable[[int], None] | None = None, workers: int = 2) -> Check:
    """Presence, extra files, sizes, hashes (files hashed in parallel) and the manifest's signature."""
    from concurrent.futures import ThreadPoolExecutor

    problems: list[str] = []
    try:
        manifest_bytes = (folder / MANIFEST).read_bytes()
        manifest = json.loads(manifest_bytes)
        listed = {f["name"]: f for f in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return Check(False, 0, [MANIFEST], [], [], "missing", [f"{MANIFEST} is missing or unreadable"])
    signature = check_signature(manifest_bytes, manifest)
    if signature != "valid":
        problems.append(f"{MANIFEST}: signature {signature}")
    sums: dict[str, str] = {}
    try:
        for line in (folder / SUMS).read_text(encoding="utf-8").splitlines():
            digest, _sep, name = line.partition("  ")
            sums[name] = digest
    except OSError:
        problems.append(f"{SUMS} is missing")
    for name, entry in listed.items():
        if sums and sums.get(name) != entry["sha256"]:
            problems.append(f"{SUMS} and {MANIFEST} disagree about {name}")
    present = {p.name for p in folder.iterdir() if p.is_file()}
    allowed = set(listed) | {MANIFEST, SIGNATURE, SUMS, STATE, "act.pdf"}
    missing = sorted(n for n in listed if n not in present)
    extra = sorted(n for n in present - allowed if not n.startswith("."))
    partials = sorted(n for n in present if n.endswith(".partial"))
    extra += partials

    def check_one(name: str) -> tuple[str, str | None]:
        entry = listed[name]
        path = folder / name
        if path.stat().st_size != entry["bytes"]:
            return name, f"{name}: size {path.stat().st_size}, expected {entry['bytes']}"
        digest, _size = hash_file(path, progress)
        return name, None if digest == entry["sha256"] else f"{name}: SHA-256 differs"
    mismatched = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for name, problem in pool.map(check_one, [n for n in listed if n in present]):
            if problem:
                mismatched.append(name)
                problems.append(problem)
    problems += [f"{n}: missing" for n in missing] + [f"{n}: not in the manifest" for n in extra]
    ok = not (missing or extra or mismatched or problems)
    return Check(ok, len(listed), missing, extra, sorted(mismatched), signature, problems)
