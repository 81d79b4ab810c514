"""Supervised recording: one ffmpeg per camera, watched by segment freshness.

The supervisor (`ppe-tech recorder run`, or detached by `ppe-tech cameras start`)
starts one ffmpeg per camera: RTSP over TCP with an I/O timeout, wall-clock
timestamps, stream copy into MPEG-TS segments cut on the clock and flushed packet by
packet, so a killed process leaves playable files. Once a second it checks every
camera's newest segment: a file that stops growing means recording stopped, even
when ffmpeg still runs (the top complaint about open NVRs), and the camera is
restarted with backoff. Each outage is kept with its start and end, restarts are
counted, and the state is written atomically to `state.json` for `cameras status`.
The supervisor never deletes a recording.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ppe_tech import winjob
from ppe_tech.messages import M
from ppe_tech.outputs import replace
from ppe_tech.secrets import copy_masked, mask_url, open_private_log
from video import ffmpeg, segments

STATE = "state.json"
STOP_REQUEST = "stop.request"  # a file: how `cameras stop` asks, on every platform
BACKOFF_MAX = 5.0


def record_command(url: str, pattern: Path, segment_s: int, timeout_s: float,
                   metadata: dict[str, str] | None = None) -> ffmpeg.Command:
    """The recording preset: stream copy, wall-clock timestamps, clock-aligned TS segments
    whose service description names the exam point and the camera. A camera's password
    reaches ffmpeg on its stdin, never in its argv (`ffmpeg.camera_input`)."""
    meta = [a for k, v in (metadata or {}).items() for a in ("-metadata", f"{k}={v}")]
    source = ffmpeg.camera_input(url, timeout_s)
    # -use_wallclock_as_timestamps is the outer input's (the concat list's, for a hidden URL):
    # it stamps every packet as ffmpeg reads it, whichever demuxer produced it
    args = [ffmpeg.tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "warning",
            "-use_wallclock_as_timestamps", "1", *source.argv,
            "-map", "0:v:0", "-c", "copy", "-copyts", "-muxdelay", "0", "-muxpreload", "0",
            # the first keyframe of a run can arrive without a time: give it the next packet's
            "-bsf:v", r"setts=pts=if(eq(PTS\,NOPTS)\,NEXT_PTS\,PTS):dts=if(eq(DTS\,NOPTS)\,NEXT_DTS\,DTS)",
            *meta, "-f", "segment", "-segment_time", str(segment_s), "-segment_atclocktime", "1",
            "-segment_format", "mpegts", "-segment_format_options", "flush_packets=1",
            "-strftime", "1", str(pattern)]
    return ffmpeg.Command(args, source.stdin)


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


@dataclass
class CameraRun:
    id: str
    url: str
    pattern: Path
    proc: subprocess.Popen | None = None
    started: float = 0.0  # monotonic
    starts: int = 0
    failures: int = 0
    next_start: float = 0.0
    newest: Path | None = None
    newest_bytes: int = 0
    done_bytes: int = 0
    last_growth: float = 0.0  # monotonic
    last_data_wall: float | None = None
    outage_start: float | None = None
    outage_reason: str = ""
    outages: list[dict] = field(default_factory=list)
    state: str = "starting"

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)


# Windows process creation flags (the numbers: subprocess has these names on Windows only)
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
CTRL_BREAK_EVENT = 1


def _interrupt(proc: subprocess.Popen) -> bool:
    """Ask ffmpeg to finish its segment and exit (its 'q'): SIGINT, or CTRL_BREAK to its process
    group on Windows; False when it could not be asked (the caller kills it after its grace).
    Not Popen.send_signal(CTRL_BREAK_EVENT) on Windows: when the event cannot be sent (no
    console) CPython's os.kill goes on to TerminateProcess, then raises SystemError."""
    if sys.platform == "win32":
        import ctypes

        return bool(ctypes.WinDLL("kernel32").GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, proc.pid))
    try:
        proc.send_signal(signal.SIGINT)
        return True
    except OSError:
        return False


def _child_setup() -> None:  # pragma: no cover - runs in the child
    """Linux: the ffmpeg dies with its supervisor, even one killed by SIGKILL (Windows: winjob)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Supervisor:
    def __init__(self, cameras: list[tuple[str, str]], root: Path, state_dir: Path, *, segment_s: int = 60,
                 stall_s: float = 15.0, timeout_s: float = 5.0, tz: str = "UTC", floor_bytes: int = 0,
                 log: Callable[[str], None] | None = None, metadata: dict[str, dict[str, str]] | None = None,
                 interrupted: float | None = None):
        self.root, self.state_dir = root, state_dir
        self.segment_s, self.stall_s, self.timeout_s = segment_s, stall_s, timeout_s
        self.tz, self.floor = tz, floor_bytes
        self.metadata = metadata or {}
        self.runs = [CameraRun(cid, url, segments.pattern(root, cid)) for cid, url in cameras]
        self.stopping = threading.Event()
        self.started_wall = time.time()
        if interrupted is not None:  # resumed after a cut: every camera was down from then until now
            cut = {"start": iso(interrupted), "end": iso(self.started_wall),
                   "seconds": round(self.started_wall - interrupted, 1),
                   "reason": str(M("recording interrupted (power cut or crash); resumed"))}
            for run in self.runs:
                run.outages.append(dict(cut))
        self.log = log or (lambda line: print(f"{iso_now()} {mask_url(line)}", file=sys.stderr, flush=True))
        self.disk_warning: str | None = None  # for the log; the CLI words it from disk_free and floor
        self.disk_free: int | None = None
        self._last_disk_check = 0.0

    # -- one camera ---------------------------------------------------------------------------

    def _start(self, run: CameraRun) -> None:
        run.pattern.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TZ=ffmpeg.tz_env(self.tz))  # local time in the segment names
        kwargs: dict = {"preexec_fn": _child_setup} if sys.platform.startswith("linux") else {}
        if sys.platform == "win32":
            kwargs["creationflags"] = CREATE_NEW_PROCESS_GROUP
        run.proc = ffmpeg.popen(record_command(run.url, run.pattern, self.segment_s, self.timeout_s,
                                               self.metadata.get(run.id)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, **kwargs)
        # ffmpeg names the URL it could not open: every line is masked before the 0600 log gets it
        if sys.platform == "win32":  # what PR_SET_PDEATHSIG does on Linux: it dies with the supervisor
            try:
                winjob.bind(run.proc)
            except OSError as exc:
                self.log(str(M("{camera}: ffmpeg pid {pid} is not bound to the supervisor and may outlive it: {error}",
                               camera=run.id, pid=run.proc.pid, error=exc)))
        copy_masked(run.proc.stderr, self.state_dir / f"ffmpeg-{run.id}.log", known=run.url)
        run.started = time.monotonic()
        run.starts += 1
        if run.starts > 1:
            self.log(str(M("{camera}: restart {n} (ffmpeg pid {pid})", camera=run.id, n=run.restarts, pid=run.proc.pid)))
        else:
            self.log(str(M("{camera}: recording {url} (ffmpeg pid {pid})", camera=run.id, url=mask_url(run.url),
                           pid=run.proc.pid)))

    def _down(self, run: CameraRun, reason: str) -> None:
        if run.outage_start is None:
            run.outage_start = run.last_data_wall or time.time()
            run.outage_reason = reason
            self.log(str(M("{camera}: DOWN: {reason}", camera=run.id, reason=reason)))
        run.state = "down"
        run.failures += 1
        delay = min(BACKOFF_MAX, 1.5 * 2 ** (run.failures - 1))
        run.next_start = time.monotonic() + delay

    def _stop_proc(self, run: CameraRun, grace: float = 3.0) -> None:
        proc = run.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.wait(timeout=grace if _interrupt(proc) else 0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        run.proc = None

    def _newest(self, run: CameraRun) -> tuple[Path | None, int]:
        folder = run.pattern.parent
        best: tuple[str, int] | None = None
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name.endswith(".ts") and (best is None or entry.name > best[0]):
                        best = (entry.name, entry.stat().st_size)
        except FileNotFoundError:
            return None, 0
        return (folder / best[0], best[1]) if best else (None, 0)

    def check(self, run: CameraRun) -> None:
        now = time.monotonic()
        if run.proc is not None and run.proc.poll() is not None:
            code = run.proc.returncode
            run.proc = None
            self._down(run, str(M("ffmpeg exited with code {code}", code=code)))
        if run.proc is None and now >= run.next_start and not self.stopping.is_set():
            self._start(run)
        newest, size = self._newest(run)
        if newest != run.newest:
            if run.newest is not None:  # the previous segment is complete: count it
                try:
                    run.done_bytes += run.newest.stat().st_size
                except OSError:
                    pass
            run.newest, run.newest_bytes = newest, 0
        grew = newest is not None and size > run.newest_bytes
        run.newest_bytes = max(run.newest_bytes, size)
        if grew and run.proc is not None:
            run.last_growth = now
            run.last_data_wall = time.time()
            if run.outage_start is not None:
                end = time.time()
                run.outages.append({"start": iso(run.outage_start), "end": iso(end),
                                    "seconds": round(end - run.outage_start, 1), "reason": run.outage_reason})
                self.log(str(M("{camera}: back after {s:.1f} s", camera=run.id, s=end - run.outage_start)))
                run.outage_start = None
            run.state = "recording"
            if now - run.started > 30:
                run.failures = 0
        elif run.proc is not None and now - max(run.last_growth, run.started) > self.stall_s:
            self.log(str(M("{camera}: no data for {s:.0f} s while ffmpeg runs: restarting", camera=run.id,
                           s=self.stall_s)))
            self._stop_proc(run, grace=1.0)
            self._down(run, str(M("stalled: no data for {s:.0f} s", s=self.stall_s)))

    # -- the loop -----------------------------------------------------------------------------

    def _check_disk(self) -> None:
        now = time.monotonic()
        if now - self._last_disk_check < 10:
            return
        self._last_disk_check = now
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return
        if self.floor and free < self.floor:
            message = M("only {free:.1f} GiB free for recordings (floor {floor:.1f} GiB)", free=free / 2**30,
                        floor=self.floor / 2**30)
            if self.disk_warning is None or str(message) != self.disk_warning:
                self.log(str(M("WARNING: {message}", message=message)))
            self.disk_warning = str(message)
            self.disk_free = free
        else:
            self.disk_warning = None
            self.disk_free = None

    def state(self, running: bool = True) -> dict:
        now = time.monotonic()
        cams = {}
        for run in self.runs:
            age = (now - run.last_growth) if run.last_growth else None
            outages = list(run.outages)
            if run.outage_start is not None:
                outages.append({"start": iso(run.outage_start), "end": None,
                                "seconds": round(time.time() - run.outage_start, 1), "reason": run.outage_reason})
            cams[run.id] = {
                "state": run.state if running else "stopped",
                "recording": running and run.state == "recording" and age is not None and age <= self.stall_s,
                "ffmpeg_pid": run.proc.pid if run.proc is not None else None,
                "newest_segment": str(run.newest) if run.newest else None,
                "last_segment_age_s": round(age, 1) if age is not None else None,
                "last_data": iso(run.last_data_wall),
                "bytes": run.done_bytes + run.newest_bytes,
                "restarts": run.restarts, "outages": outages,
            }
        return {"pid": os.getpid(), "running": running, "started": iso(self.started_wall), "updated": iso_now(),
                "segment_s": self.segment_s, "stall_s": self.stall_s, "root": str(self.root),
                "disk_warning": self.disk_warning, "disk_free": self.disk_free, "disk_floor": self.floor,
                "cameras": cams}

    def write_state(self, running: bool = True) -> None:
        write_state(self.state_dir, self.state(running))

    def run(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        request = self.state_dir / STOP_REQUEST
        request.unlink(missing_ok=True)
        try:
            while not self.stopping.is_set():
                for run in self.runs:
                    self.check(run)
                self._check_disk()
                self.write_state()
                if request.exists():
                    self.stopping.set()
                    break
                self.stopping.wait(1.0)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        asked = set()
        for run in self.runs:  # SIGINT to all first: they finish their segments in parallel
            if run.proc is not None and run.proc.poll() is None:
                if _interrupt(run.proc):
                    asked.add(run.id)
                else:
                    self.log(str(M("{camera}: ffmpeg pid {pid} could not be asked to finish its segment: killed",
                                   camera=run.id, pid=run.proc.pid)))
                    run.proc.kill()
        deadline = time.monotonic() + 5
        for run in self.runs:
            if run.proc is None:
                continue
            try:
                run.proc.wait(timeout=max(0.1, deadline - time.monotonic()) if run.id in asked else 10)
            except subprocess.TimeoutExpired:
                self.log(str(M("{camera}: ffmpeg pid {pid} did not finish its segment in 5 s: killed", camera=run.id,
                               pid=run.proc.pid)))
                run.proc.kill()
                run.proc.wait()
            run.proc = None
            self.check_final(run)
        self.write_state(running=False)
        self.log(str(M("stopped")))

    def check_final(self, run: CameraRun) -> None:
        newest, size = self._newest(run)
        if newest is not None and newest == run.newest:
            run.newest_bytes = size


def write_state(state_dir: Path, doc: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    replace(tmp, state_dir / STATE)


def read_state(state_dir: Path) -> dict | None:
    try:
        return json.loads((state_dir / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    """Is `pid` a live supervisor (not a zombie, not a reused pid of another program)?"""
    if not pid:
        return False
    try:
        import psutil

        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any("recorder" in part for part in proc.cmdline())
    except Exception:  # psutil.NoSuchProcess, AccessDenied: not ours to count on
        return False


def spawn(argv: list[str], log: Path) -> int:
    """Start `argv` detached from this terminal and session; returns its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open_private_log(log) as out:  # the supervisor's own output: masked lines, still private
        kwargs: dict = {}
        if sys.platform == "win32":
            # a console of its own with no window, not none (DETACHED_PROCESS): CTRL_BREAK, the stop
            # that lets ffmpeg finish its segment, reaches only processes attached to a console
            kwargs["creationflags"] = CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, close_fds=True, **kwargs)
    return proc.pid


def stop(state_dir: Path, timeout: float = 10.0) -> bool:
    """Ask the supervisor to stop; wait until it has; True when one was running."""
    state = read_state(state_dir)
    pid = state.get("pid") if state else None
    if not alive(pid):
        return False
    assert pid is not None
    (state_dir / STOP_REQUEST).write_text(iso_now(), encoding="utf-8")
    if sys.platform != "win32":
        os.kill(pid, signal.SIGTERM)  # at once; the request file is what Windows has
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        import psutil

        for child in psutil.Process(pid).children(recursive=True):
            child.kill()
        psutil.Process(pid).kill()
    return True
