"""Camera probe and image health: reachable, codec, size, fps; black, frozen, blurred, covered.

Each camera is sampled by one ffmpeg that decodes keyframes only (about 1 % of a
core) and hands small BGR frames to the analysis; all cameras run in parallel, each
under a hard deadline that holds even for a port that accepts and never answers.
The analysis is pure functions of the frames, so thresholds are testable without
a camera.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ppe_tech.messages import N_
from ppe_tech.secrets import mask_url
from video import ffmpeg
from video.parallel import in_parallel  # noqa: F401 (callers use health.in_parallel)

ANALYSIS_W, ANALYSIS_H = 480, 270
PROBLEMS = ("offline", "unauthorized", "black", "covered", "frozen", "blurred", "resolution", "fps")


@dataclass(frozen=True)
class Thresholds:
    """What counts as a problem; `[health]` in the config overrides them."""
    black_mean: float = 18.0  # mean brightness (0-255) under which the picture is black
    covered_fraction: float = 0.6  # share of the frame within one colour above which it is covered
    colour_tolerance: float = 24.0  # distance in BGR that still counts as "one colour"
    frozen_diff: float = 0.5  # mean absolute difference between keyframes under which it is frozen
    blur_variance: float = 150.0  # variance of the Laplacian under which it is blurred
    fps_tolerance: float = 0.1  # fps may be this share below the configured rate


@dataclass
class FrameStats:
    mean: float
    sharpness: float
    dominant: float


@dataclass
class Sample:
    """What one camera showed: its stream's description and a few keyframes."""
    camera: str
    url: str  # masked
    reachable: bool = False
    error: str | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frames: list[np.ndarray] = field(default_factory=list, repr=False)
    seconds: float = 0.0
    snapshot: Path | None = None


@dataclass
class Verdict:
    camera: str
    healthy: bool
    problems: list[str]
    details: dict
    sample: Sample

    def as_json(self) -> dict:
        s = self.sample
        return {"id": self.camera, "healthy": self.healthy, "problems": self.problems, "url": s.url,
                "codec": s.codec, "width": s.width, "height": s.height, "fps": s.fps, "error": s.error,
                "frames": len(s.frames), "metrics": self.details,
                "snapshot": str(s.snapshot) if s.snapshot else None}


# -- the analysis ------------------------------------------------------------------------------

def frame_stats(frame: np.ndarray, tolerance: float) -> FrameStats:
    import cv2

    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    pixels = frame.reshape(-1, 3).astype(np.int16)
    median = np.median(pixels[::7], axis=0)
    distance = np.abs(pixels - median).max(axis=1)
    dominant = float((distance <= tolerance).mean())
    return FrameStats(float(gray.mean()), sharpness, dominant)


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def classify(sample: Sample, t: Thresholds, expected_size: tuple[int, int] | None = None,
             expected_fps: float | None = None) -> Verdict:
    """Problems of one camera, from its sample. Pure: no I/O."""
    problems: list[str] = []
    details: dict = {}
    if not sample.reachable or not sample.frames:
        problems.append("unauthorized" if sample.error and "401" in sample.error else "offline")
        return Verdict(sample.camera, False, problems, details, sample)
    stats = [frame_stats(f, t.colour_tolerance) for f in sample.frames]
    mean = float(np.median([s.mean for s in stats]))
    sharpness = float(np.median([s.sharpness for s in stats]))
    dominant = float(np.median([s.dominant for s in stats]))
    diffs = [mean_difference(a, b) for a, b in zip(sample.frames, sample.frames[1:])]
    details.update(mean=round(mean, 1), sharpness=round(sharpness, 1), dominant=round(dominant, 3),
                   difference=round(max(diffs), 2) if diffs else None)
    if mean < t.black_mean:
        problems.append("black")
    elif dominant >= t.covered_fraction:
        problems.append("covered")
    else:
        if diffs and max(diffs) < t.frozen_diff:
            problems.append("frozen")
        if sharpness < t.blur_variance:
            problems.append("blurred")
    if expected_size and (sample.width, sample.height) != expected_size:
        problems.append("resolution")
    if expected_fps and sample.fps is not None and sample.fps < expected_fps * (1 - t.fps_tolerance):
        problems.append("fps")
    return Verdict(sample.camera, not problems, problems, details, sample)


# -- sampling ----------------------------------------------------------------------------------

_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")


# ffmpeg.exe has no strerror for the socket errors and prints their numbers, in the MSVC
# numbering of errno.h: ECONNREFUSED 107, ETIMEDOUT 138, EHOSTUNREACH 110
_ERRORS = (("401", N_("401 Unauthorized: wrong user or password")),
           ("Connection refused", N_("connection refused")),
           ("Error number -107 occurred", N_("connection refused")),
           ("timed out", N_("no answer (timed out)")),
           ("Error number -138 occurred", N_("no answer (timed out)")),
           ("Error number -110 occurred", N_("no route to host")),
           ("Invalid data", N_("no answer or not a video stream")),
           ("No route", N_("no route to host")), ("404", N_("404 Not Found: wrong path")))
KNOWN_ERRORS = frozenset(text for _needle, text in _ERRORS) | {N_("no video")}  # catalogue messages, translated when shown


def _describe_error(stderr: str) -> str:
    for needle, text in _ERRORS:
        if needle in stderr:
            return text
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return mask_url(lines[-1]) if lines else N_("no video")


def sample(camera: str, url: str, *, seconds: float = 4.0, timeout_s: float = 5.0,
           snapshot: Path | None = None) -> Sample:
    """Keyframes of `url` for `seconds`, under a hard deadline of timeout + seconds + 2 s."""
    result = Sample(camera, mask_url(url), snapshot=snapshot)
    command = ffmpeg.sample_command(url, timeout_s, seconds, ANALYSIS_W, ANALYSIS_H, snapshot)
    started = time.monotonic()
    proc = ffmpeg.popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    deadline = threading.Timer(timeout_s + seconds + 2.0, proc.kill)
    deadline.start()
    size = ANALYSIS_W * ANALYSIS_H * 3
    try:
        assert proc.stdout is not None
        while True:
            data = proc.stdout.read(size)
            if len(data) < size:
                break
            result.frames.append(np.frombuffer(data, dtype=np.uint8).reshape(ANALYSIS_H, ANALYSIS_W, 3))
        proc.wait()
    finally:
        deadline.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=2)
    stderr = b"".join(err_chunks).decode("utf-8", "replace")
    result.seconds = time.monotonic() - started
    if m := _STREAM.search(stderr):
        result.codec, result.width, result.height = m.group(1), int(m.group(2)), int(m.group(3))
        line = stderr[m.start():stderr.find("\n", m.start())]
        if f := _FPS.search(line):
            result.fps = float(f.group(1))
    result.reachable = bool(result.frames) or result.codec is not None
    if not result.frames:
        result.error = _describe_error(stderr) if stderr.strip() else N_("no answer within the timeout")
        if result.snapshot is not None:
            result.snapshot.unlink(missing_ok=True)
            result.snapshot = None
    return result


@dataclass
class ProbeResult:
    camera: str
    url: str
    reachable: bool
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    error: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)


def probe(camera: str, url: str, *, timeout_s: float = 5.0) -> ProbeResult:
    """Ask the camera what it streams; a hard deadline of timeout_s + 1 s, whatever the peer does."""
    started = time.monotonic()
    try:
        proc = ffmpeg.run(ffmpeg.probe_command(url, timeout_s), capture_output=True, timeout=timeout_s + 1.0)
    except subprocess.TimeoutExpired:
        return ProbeResult(camera, mask_url(url), False, error=N_("no answer within the timeout"),
                           seconds=time.monotonic() - started)
    elapsed = time.monotonic() - started
    stderr = proc.stderr.decode("utf-8", "replace")
    try:
        streams = json.loads(proc.stdout or b"{}").get("streams", [])
    except json.JSONDecodeError:
        streams = []
    if proc.returncode != 0 or not streams:
        return ProbeResult(camera, mask_url(url), False, error=_describe_error(stderr) if stderr else N_("no video stream"),
                           seconds=elapsed)
    s = streams[0]
    return ProbeResult(camera, mask_url(url), True, s.get("codec_name"), s.get("width"), s.get("height"),
                       _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate")), seconds=elapsed)


def _rate(text: str | None) -> float | None:
    if not text or "/" not in text:
        return None
    num, den = text.split("/", 1)
    try:
        value = float(num) / float(den)
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None
