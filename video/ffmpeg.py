"""ffmpeg and ffprobe command lines, built in one place from named presets.

Every network input is RTSP over TCP with a socket I/O timeout; every process runs
without stdin (`-nostdin`), with argument lists, never a shell. USB cameras
(`v4l2:/dev/videoN`) go through the same builders.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ppe_tech.errors import EnvironmentFailure
from ppe_tech.messages import _


def tool(name: str) -> str:
    """The path of ffmpeg or ffprobe; exit 3 naming the package when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise EnvironmentFailure(_("{tool} is not installed (Debian: apt-get install ffmpeg)").format(tool=name))
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


def input_args(url: str, timeout_s: float) -> list[str]:
    """How to open a camera: RTSP over TCP with an I/O timeout, or a local V4L2 device."""
    if url.startswith("v4l2:"):
        return ["-f", "v4l2", "-i", url[len("v4l2:"):]]
    micros = str(int(timeout_s * 1_000_000))
    if url.startswith(("rtsp://", "rtsps://")):
        return ["-rtsp_transport", "tcp", "-timeout", micros, "-i", url]
    return ["-rw_timeout", micros, "-i", url]


def probe_args(url: str, timeout_s: float) -> list[str]:
    return [tool("ffprobe"), "-v", "error", "-hide_banner", "-analyzeduration", "1000000", "-probesize", "1000000",
            *input_args(url, timeout_s)[:-2],
            "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,avg_frame_rate,r_frame_rate",
            "-of", "json", input_args(url, timeout_s)[-1]]


def sample_args(url: str, timeout_s: float, seconds: float, width: int, height: int,
                snapshot: Path | None = None) -> list[str]:
    """Keyframes only, decoded and scaled to width x height BGR on stdout; optionally the
    first keyframe at full size as JPEG."""
    args = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "info", "-analyzeduration", "1000000",
            "-probesize", "1000000", "-skip_frame", "nokey", "-t", f"{seconds:.3f}",  # -t before -i: the input's
            *input_args(url, timeout_s)]
    if snapshot is not None:
        args += ["-map", "0:v:0", "-fps_mode", "passthrough", "-frames:v", "1", "-q:v", "3", "-update", "1",
                 "-y", str(snapshot)]
    args += ["-map", "0:v:0", "-fps_mode", "passthrough", "-vf", f"scale={width}:{height}",
             "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    return args
