"""ffmpeg and ffprobe command lines, built in one place from named presets.

Every network input is RTSP over TCP with a socket I/O timeout; every process runs
without stdin interaction (`-nostdin`), with argument lists, never a shell. USB cameras
(`v4l2:/dev/videoN`) go through the same builders.

A camera URL that holds a password never goes into a command line, which every local
user can read (`ps`, /proc/PID/cmdline): ffmpeg reads it from its stdin instead, as a
one-line concat list (`-f concat -safe 0 -i pipe:0`) whose per-file `option` lines carry
the input options (transport, timeout) to the camera's demuxer. A `Command` holds the
argv and those bytes; `popen` and `run` write them and close the pipe.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ppe_tech.errors import EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.secrets import mask_url


def tool(name: str) -> str:
    """The path of ffmpeg or ffprobe; exit 3 naming the package when it is missing."""
    path = shutil.which(name)
    if path is None:
        from ppe_tech.system_packages import hint

        raise EnvironmentFailure(_("{tool} is not installed ({how})").format(tool=name, how=hint(name)))
    return path


def tz_env(zone: str, when: float | None = None, platform: str = sys.platform) -> str:
    """TZ for an ffmpeg whose local time (the segment names of -strftime) must be `zone`'s.

    A POSIX C library reads the IANA name. Windows' C runtime reads only `tzn[+|-]hh[:mm]`, the
    hours to add to local time for UTC, and takes an IANA name for UTC: segments recorded in
    Moscow were named three hours early and read as unreadable. There the zone's offset at
    `when` (now) is given; a zone with summer time keeps that offset until ffmpeg restarts
    (Russia's zones have none)."""
    if platform != "win32":
        return zone
    offset = datetime.fromtimestamp(time.time() if when is None else when, ZoneInfo(zone)).utcoffset()
    minutes = round(offset.total_seconds() / 60) if offset is not None else 0
    west = -minutes  # the C runtime's sign: positive west of Greenwich
    sign = "-" if west < 0 else ""
    hours, rest = divmod(abs(west), 60)
    return f"LOC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")


def filter_option(value: str) -> str:
    r"""`value` escaped as one option value of a filter inside a filtergraph (-vf, lavfi).

    ffmpeg-filters, "Notes on filtergraph escaping": the option level escapes \ ' and : with
    a backslash, then the filtergraph level escapes \ ' [ ] , ; once more. A Windows font path
    `Z:\f\a.ttf` becomes `Z\\:\\\\f\\\\a.ttf`; unescaped, ffmpeg takes `Z` for the font
    file and the rest for the next option."""
    option = re.sub(r"[\\':]", lambda m: "\\" + m.group(), value)
    return re.sub(r"[\\'\[\],;]", lambda m: "\\" + m.group(), option)


# What the concat list may open: the list itself on stdin, and what a camera's demuxer needs
# (RTSP: tcp, udp, rtp; RTSPS: tls, srtp; HTTP(S) streams). ffmpeg's default for a list
# read from a pipe is "crypto,data", which opens no camera.
CONCAT_PROTOCOLS = "pipe,tcp,udp,rtp,tls,srtp,http,https"


@dataclass(frozen=True)
class Command:
    """An ffmpeg or ffprobe run: its argv, and the bytes it reads on stdin (None: no stdin)."""
    argv: list[str]
    stdin: bytes | None = None


def concat_quote(text: str) -> str:
    r"""`text` as one token of an ffconcat line (ffmpeg's av_get_token): in single quotes, which
    keep everything literal, backslashes (Windows paths) included; a ' itself closes the quotes,
    is escaped, and reopens them: `it's` -> `'it'\''s'`. A line break cannot be quoted."""
    if any(c in text for c in "\r\n\0"):
        raise ValueError("a line break or NUL cannot be written into an ffconcat list")
    return "'" + text.replace("'", "'\\''") + "'"


def concat_list(url: str, options: list[tuple[str, str]]) -> bytes:
    """The ffconcat list that opens `url` with `options` (its demuxer's and protocol's)."""
    lines = ["ffconcat version 1.0", f"file {concat_quote(url)}",
             *(f"option {key} {concat_quote(value)}" for key, value in options)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def hidden(url: str) -> bool:
    """Does `url` hold a secret that must stay out of argv (the same rule as `mask_url`)?"""
    return not url.startswith("v4l2:") and mask_url(url) != url


def input_options(url: str, timeout_s: float) -> list[tuple[str, str]]:
    """The options a camera is opened with: RTSP over TCP with an I/O timeout, else an I/O timeout."""
    micros = str(int(timeout_s * 1_000_000))
    if url.startswith(("rtsp://", "rtsps://")):
        return [("rtsp_transport", "tcp"), ("timeout", micros)]
    return [("rw_timeout", micros)]


def camera_input(url: str, timeout_s: float, probing: list[tuple[str, str]] | None = None) -> Command:
    """How to open a camera: its input options and `-i`, and what goes to ffmpeg's stdin.

    A local V4L2 device and a URL without a password: on the command line. A URL with a
    password: `-i pipe:0`, the URL and its options in the concat list on stdin. `probing`
    (analyzeduration, probesize) applies to the camera's own demuxer either way."""
    probe = [a for key, value in probing or [] for a in (f"-{key}", value)]
    if url.startswith("v4l2:"):
        return Command([*probe, "-f", "v4l2", "-i", url[len("v4l2:"):]])
    options = input_options(url, timeout_s)
    if not hidden(url):
        return Command([*probe, *(a for key, value in options for a in (f"-{key}", value)), "-i", url])
    return Command([*probe, "-f", "concat", "-safe", "0", "-protocol_whitelist", CONCAT_PROTOCOLS, "-i", "pipe:0"],
                   concat_list(url, [*options, *(probing or [])]))


def popen(command: Command, **kwargs) -> subprocess.Popen:
    """Start `command`; its stdin bytes are written at once and the pipe closed (ffmpeg reads
    the whole concat list when it opens its input)."""
    if command.stdin is None:
        return subprocess.Popen(command.argv, stdin=subprocess.DEVNULL, **kwargs)
    proc = subprocess.Popen(command.argv, stdin=subprocess.PIPE, **kwargs)
    assert proc.stdin is not None
    try:
        proc.stdin.write(command.stdin)  # a few hundred bytes: never more than a pipe holds
        proc.stdin.close()
    except OSError:  # it exited before reading (BrokenPipeError): its exit code tells why
        pass
    return proc


def run(command: Command, **kwargs) -> subprocess.CompletedProcess:
    """subprocess.run for `command`, its stdin bytes as input."""
    if command.stdin is None:
        return subprocess.run(command.argv, stdin=subprocess.DEVNULL, **kwargs)
    return subprocess.run(command.argv, input=command.stdin, **kwargs)


PROBING = [("analyzeduration", "1000000"), ("probesize", "1000000")]


def probe_command(url: str, timeout_s: float) -> Command:
    source = camera_input(url, timeout_s, PROBING)
    return Command([tool("ffprobe"), "-v", "error", "-hide_banner", "-select_streams", "v:0",
                    "-show_entries", "stream=codec_name,width,height,avg_frame_rate,r_frame_rate",
                    "-of", "json", *source.argv], source.stdin)


def sample_command(url: str, timeout_s: float, seconds: float, width: int, height: int,
                   snapshot: Path | None = None) -> Command:
    """Keyframes only, decoded and scaled to width x height BGR on stdout; optionally the
    first keyframe at full size as JPEG."""
    source = camera_input(url, timeout_s, PROBING)
    args = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "info",
            "-skip_frame", "nokey", "-t", f"{seconds:.3f}",  # -t before -i: the input's
            *source.argv]
    if snapshot is not None:
        args += ["-map", "0:v:0", "-fps_mode", "passthrough", "-frames:v", "1", "-q:v", "3", "-update", "1",
                 "-y", str(snapshot)]
    args += ["-map", "0:v:0", "-fps_mode", "passthrough", "-vf", f"scale={width}:{height}",
             "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    return Command(args, source.stdin)
