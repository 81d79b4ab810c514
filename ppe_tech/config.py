"""Configuration: the schema of `ppe-tech.toml`, loading, validation and `init`.

The schema is defined once, as data classes whose field metadata carry the
documentation and checks; validation, the commented file `init` writes and the
reference in the docs all come from it. Every mistake is collected and reported as
`FILE:LINE: path: what is wrong (what is expected)`, then the command exits 2.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import sys
import tomllib
import types
import typing
from dataclasses import dataclass, field
import datetime as dt
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from ppe_tech import paths
from ppe_tech.errors import BadInput, ConfigError, EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.secrets import mask_url
from ppe_tech.timeutil import format_duration, parse_duration, parse_local_datetime, parse_size, zone


class ByteSize(int):
    """A size in bytes, written in the file as '10GiB'."""


class LocalDateTime(datetime):
    """A local date and time of the ППЭ, written as '2026-06-01T10:00'."""


def _opt(doc: str, *, check: Callable[[Any], str | None] | None = None, example: Any = None,
         required: bool = False, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING,
         placeholder: bool = False):
    """A schema field. `placeholder`: its example is made up (a path, a host, a printer nobody has),
    so a value still equal to it was left from `ppe-tech init`'s comments (see `example_values`)."""
    meta = {"doc": doc, "check": check, "example": example, "required": required, "placeholder": placeholder}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    if default is dataclasses.MISSING and required:
        return field(default=None, metadata=meta)
    return field(default=default, metadata=meta)


# -- checks: return None when fine, else what is expected -----------------------------

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_VERSION_SPEC = re.compile(r"^\s*(==|!=|>=|<=|>|<|~=)?\s*\d+(\.\d+)*\s*(,\s*(==|!=|>=|<=|>|<|~=)?\s*\d+(\.\d+)*\s*)*$")
LOCATIONS = ("auditorium", "corridor", "entrance", "hq")
ENGINES = ("auto", "clamav", "defender", "kaspersky", "drweb")
# well-known public resolvers and sites: any of them answering means the station is on the internet
DEFAULT_PROBES = ("77.88.8.8:53", "8.8.8.8:53", "1.1.1.1:443", "ya.ru:443")
BROADCASTS = ("online", "offline")


def _digits(n: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if value and not (len(value) == n and value.isdigit()):
            return _("{n} digits").format(n=n)
        return None
    return check


def _identifier(value: str) -> str | None:
    if not _ID.fullmatch(value):
        return _("lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters")
    return None


def _one_of(*choices: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in choices else _("one of {choices}").format(choices=", ".join(choices))
    return check


def _timezone(value: str) -> str | None:
    try:
        zone(value)
    except ValueError:
        return _("a time zone name such as Europe/Moscow, Asia/Yekaterinburg")
    return None


def _camera_url(value: str) -> str | None:
    if re.fullmatch(r"v4l2:/dev/video\d+", value):
        return None
    m = re.fullmatch(r"(rtsp|rtsps|http|https)://(?:[^/\s]*@)?([^@/:\s]+)(?::(\d+))?(/\S*)?", value)
    if not m or (m.group(3) and not 0 < int(m.group(3)) < 65536):
        return _("rtsp://host[:port]/path (credentials allowed before the host) or v4l2:/dev/videoN")
    return None


def _onvif_url(value: str) -> str | None:
    m = re.fullmatch(r"(http|https)://(?:[^/\s]*@)?([^@/:\s]+)(?::(\d+))?(/\S*)?", value)
    if value and (not m or (m.group(3) and not 0 < int(m.group(3)) < 65536)):
        return _("http://[user:password@]host[:port]/onvif/device_service")
    return None


def _resolution(value: str) -> str | None:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", value)
    return None if not value or m else _("WIDTHxHEIGHT, e.g. 1920x1080")


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else _("a number not below zero")


def _share(value: float) -> str | None:
    return None if 0 <= value <= 1 else _("a share between 0 and 1")


def _clamd_address(value: str) -> str | None:
    """clamd's address: tcp://host:port or host:port, or the absolute path of its local socket
    (not on Windows, whose Python has no local sockets)."""
    import socket

    from checks.antivirus import POSIX_DEFAULT_CLAMD, WINDOWS_CLAMD, clamd_endpoint

    try:
        kind, _where = clamd_endpoint(value)
    except ValueError:
        return _("tcp://host:port with a port from 1 to 65535, such as '{example}'").format(example=WINDOWS_CLAMD)
    if kind == "unix" and not hasattr(socket, "AF_UNIX") and value != POSIX_DEFAULT_CLAMD:
        return _("clamd on Windows listens on TCP: '{example}'").format(example=WINDOWS_CLAMD)
    if kind == "unix" and not value.startswith("/"):
        return _("tcp://host:port or the absolute path of clamd's local socket")
    return None


def _positive(value: timedelta) -> str | None:
    return None if value.total_seconds() > 0 else _("a duration above zero")


def _visible(value: str) -> str | None:
    from ppe_tech.text import invisible

    hidden = invisible(value)
    return _("text without hidden or direction-changing characters (found {chars})").format(
        chars=", ".join(hidden)) if hidden else None


def _not_negative_duration(value: timedelta) -> str | None:
    return None if value.total_seconds() >= 0 else _("a duration not below zero")


def _host_port(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return _("host:port, such as '192.0.2.1:443'")
    return None


def _postgres_url(value: str) -> str | None:
    if value and not value.startswith(("postgresql://", "postgres://")):
        return _("a postgresql:// URL, such as 'postgresql://user@host/db'")
    return None


def _journal_location(value: str) -> str | None:
    if "://" in value:
        return _postgres_url(value)
    return None


def _version_spec(value: str) -> str | None:
    if not value or _VERSION_SPEC.fullmatch(value):
        return None
    return _("a version constraint such as '>=5.0' or '>=1.2,<2'")


# -- the schema -------------------------------------------------------------------------

@dataclass(frozen=True)
class PpeSection:
    """The exam point itself; printed in the header of every document."""
    region: str = _opt("код субъекта РФ: the region's 2-digit code", check=_digits(2), example="77", default="")
    region_name: str = _opt("name of the region as printed on documents", example="г. Москва", default="")
    code: str = _opt("код ППЭ: the exam point's 4-digit code", check=_digits(4), example="0123", default="")
    name: str = _opt("наименование ППЭ", example="ГБОУ Школа № 1", default="")
    address: str = _opt("адрес ППЭ", example="г. Москва, ул. Примерная, д. 1", default="")
    timezone: str = _opt("the exam point's time zone; times are shown in it", check=_timezone,
                         example="Europe/Moscow", default="Europe/Moscow")


@dataclass(frozen=True)
class Camera:
    """A surveillance camera."""
    id: str = _opt("unique id: [a-z0-9-]+", check=_identifier, example="corr-2", required=True)
    location: str = _opt("auditorium | corridor | entrance | hq", check=_one_of(*LOCATIONS),
                         example="corridor", required=True)
    room: str = _opt("room number or place, as printed in the journal", check=_visible, example="коридор 2 этажа",
                     default="")
    url: str = _opt("rtsp://user:password@host:554/path, or a local device v4l2:/dev/videoN", check=_camera_url,
                    example="rtsp://user:pass@192.0.2.11:554/stream1", required=True, placeholder=True)
    resolution: str = _opt("expected picture size; `cameras health` flags any other", check=_resolution,
                           example="1920x1080", default="")
    fps: int = _opt("expected frame rate; `cameras health` flags a lower one (0: not checked)",
                    check=_non_negative, example=15, default=0)
    onvif: str = _opt("the camera's ONVIF device service, for its clock and reboots (credentials: these, else "
                      "the url's)", check=_onvif_url, example="http://admin:pass@192.0.2.11/onvif/device_service",
                      default="", placeholder=True)
    broadcast: str = _opt("auditorium cameras: online (broadcast to the portal live) | offline (the recording is "
                          "uploaded after the exam, so `archive create` takes it)", check=_one_of(*BROADCASTS),
                          example="online", default="online")

    @property
    def expected_size(self) -> tuple[int, int] | None:
        if not self.resolution:
            return None
        w, h = self.resolution.split("x")
        return int(w), int(h)


@dataclass(frozen=True)
class RecordingSection:
    """Recording of the cameras."""
    segment: timedelta = _opt("segment length; supervision and gap reports follow it", check=_positive,
                              example="60s", default=timedelta(seconds=60))
    floor: ByteSize = _opt("warn loudly under this much free space", example="10GiB", default=ByteSize(10 * 2**30))
    dir: str = _opt("where recordings go (default: <data dir>/recordings)", example="", default="")
    stall_timeout: timedelta = _opt("a camera whose newest segment has not grown for this long is restarted",
                                    check=_positive, example="15s", default=timedelta(seconds=15))
    timeout: timedelta = _opt("network I/O timeout of the recording ffmpeg", check=_positive, example="5s",
                              default=timedelta(seconds=5))


@dataclass(frozen=True)
class HealthSection:
    """Image health of the cameras: how long to look and what counts as a problem."""
    sample: timedelta = _opt("how long each camera is watched", check=_positive, example="3s",
                             default=timedelta(seconds=3))
    timeout: timedelta = _opt("connection and read timeout per camera", check=_positive, example="5s",
                              default=timedelta(seconds=5))
    black_mean: float = _opt("mean brightness (0-255) under which the picture is black", check=_non_negative,
                             example=18.0, default=18.0)
    covered_fraction: float = _opt("share of the frame in one colour above which the camera is covered",
                                   check=_share, example=0.6, default=0.6)
    frozen_diff: float = _opt("mean difference between keyframes under which the picture is frozen",
                              check=_non_negative, example=0.5, default=0.5)
    blur_variance: float = _opt("sharpness (variance of the Laplacian) under which the picture is blurred",
                                check=_non_negative, example=150.0, default=150.0)
    fps_tolerance: float = _opt("how far below the expected fps is still fine, as a share", check=_share,
                                example=0.1, default=0.1)


@dataclass(frozen=True)
class OnvifSection:
    """Camera control over ONVIF: clocks, reboots, discovery."""
    ntp_server: str = _opt("`cameras clock --set` points cameras that keep NTP time at this server (SetNTP)",
                           example="", default="")
    timeout: timedelta = _opt("limit of every ONVIF call", check=_positive, example="5s",
                              default=timedelta(seconds=5))
    reboot_wait: timedelta = _opt("how long `cameras reboot` waits for a camera to answer again", check=_positive,
                                  example="2m", default=timedelta(minutes=2))


@dataclass(frozen=True)
class Exam:
    """An exam held at this point."""
    id: str = _opt("unique id: [a-z0-9-]+", check=_identifier, example="2026-06-01-math", required=True)
    subject: str = _opt("subject as printed on documents", example="Математика (профильный уровень)", default="")
    start: LocalDateTime = _opt("start, local time of the ППЭ", example="2026-06-01T10:00", required=True)
    duration: timedelta = _opt("how long the exam lasts", check=_positive, example="3h55m",
                               default=timedelta(hours=3, minutes=55))
    precheck_before: timedelta = _opt("the pre-check runs this long before the start", check=_positive,
                                      example="2h", default=timedelta(hours=2))
    record_before: timedelta = _opt("recording starts this long before the start (the recording window)",
                                    check=_not_negative_duration, example="1h", default=timedelta(hours=1))
    record_after: timedelta = _opt("recording stops this long after the end (the recording window)",
                                   check=_not_negative_duration, example="1h", default=timedelta(hours=1))

    @property
    def end(self) -> datetime:
        """The end, local time of the ППЭ (naive, like `start`)."""
        return self.start + self.duration

    def recording_window(self, tz) -> tuple[datetime, datetime]:
        """When recording should run, aware in `tz`: from start − record_before to end + record_after.
        The archive, the gaps and the disk estimate all judge this span."""
        return (self.start.replace(tzinfo=tz) - self.record_before, self.end.replace(tzinfo=tz) + self.record_after)
    readiness_before: timedelta = _opt("the technical preparation (a full check with its own protocol) runs this "
                                       "long before the start, not later than the day before", check=_positive,
                                       example="1d", default=timedelta(days=1))


@dataclass(frozen=True)
class RequiredSoftware:
    """A program that must be installed; found by a command, a path or a registry entry."""
    name: str = _opt("what to call it in the protocol", example="ffmpeg", required=True)
    command: list[str] = _opt("a command that prints its version", example=["ffmpeg", "-version"], factory=list)
    path: str = _opt("a file that must exist", example="", default="")
    registry: str = _opt("(Windows) the DisplayName of an uninstall registry entry", example="", default="")
    version: str = _opt("version constraint", check=_version_spec, example=">=5.0", default="")


_OS_RULE = re.compile(r"^[a-z][a-z0-9_.-]*\s*((==|>=|<=|>|<)\s*\d+(\.\d+)*)?$")


def _os_rule(value: str) -> str | None:
    return None if _OS_RULE.fullmatch(value) else _("an OS id and an optional version, such as 'windows>=10' or 'astra>=1.7'")


@dataclass(frozen=True)
class Minimums:
    """The station's minimums (the recommendations' «Приложение 2»); a key left out comes from the profile."""
    cpu_cores: int = _opt("processor cores (logical) at least", check=_non_negative, example=2, default=None)
    memory: ByteSize = _opt("installed memory at least", example="4GiB", default=None)
    free_disk: ByteSize = _opt("free space on the system disk at least", example="20GiB", default=None)
    os: list[str] = _opt("accepted systems: the OS id (os-release ID on Linux, 'windows') and its least version",
                         check=_os_rule, example=["windows>=10", "astra>=1.7"], default=None)
    screen: str = _opt("screen resolution at least, on every monitor", check=_resolution, example="1280x1024",
                       default=None)
    single_monitor: bool = _opt("fail when more than one monitor is connected (where the OS tells)", example=True,
                                default=None)


@dataclass(frozen=True)
class ChecksSection:
    """The pre-exam check."""
    exam_software: list[str] = _opt("folders: integrity baseline and antivirus scan",
                                    example=["/opt/exam-station"], factory=list, placeholder=True)
    forbidden_processes: list[str] = _opt("added to the built-in list", example=["someapp"], factory=list,
                                          placeholder=True)
    timeout: timedelta = _opt("default per-check timeout", check=_positive, example="20s",
                              default=timedelta(seconds=20))
    room: str = _opt("where the station stands, as written in the journal for checks and watched changes", check=_visible,
                     example="Штаб ППЭ", default="Штаб ППЭ")
    scan_timeout: timedelta = _opt("timeout of the antivirus scan and the integrity check", check=_positive,
                                   example="10m", default=timedelta(minutes=10))
    max_load: float = _opt("load average per core above which the machine is too busy (warn)",
                           check=_non_negative, example=2.0, default=2.0)
    min_free_memory: ByteSize = _opt("free memory below which the check fails", example="512MiB",
                                     default=ByteSize(512 * 2**20))
    min_battery: float = _opt("battery percent below which running on battery fails", check=_non_negative,
                              example=30.0, default=30.0)
    ntp_server: str = _opt("NTP server to measure the clock against (host or host:port); empty: ask the OS",
                           example="ntp.msk.ru", default="", placeholder=True)
    clock_warn: timedelta = _opt("clock offset that gives a warning", check=_positive, example="1s",
                                 default=timedelta(seconds=1))
    clock_fail: timedelta = _opt("clock offset that fails the check", check=_positive, example="5s",
                                 default=timedelta(seconds=5))
    printers: list[str] = _opt("printers that must be ready (CUPS or Windows names)", example=["HP_LaserJet_Pro"],
                               factory=list, placeholder=True)
    hosts: list[str] = _opt("host:port that must answer on TCP", check=_host_port, example=["192.0.2.1:443"],
                            factory=list, placeholder=True)
    connect_timeout: timedelta = _opt("TCP connect timeout per host", check=_positive, example="3s",
                                      default=timedelta(seconds=3))
    camera_clock_max_offset: timedelta = _opt("a camera clock further than this from the station's fails "
                                              "`cameras.clock` (and `cameras clock`)", check=_positive,
                                              example="2s", default=timedelta(seconds=2))
    profile: str = _opt("which checks a full run makes: station (Штаб, print and scan stations) | kege (a "
                        "participant's computer for the КЕГЭ) | a path to a region's profile (.toml)",
                        example="station", default="station")
    software_list: str = _opt("the region's list of programs (.toml) the software.list check looks for "
                              "(default: the profile's)", example="", default="")
    internet_probes: list[str] = _opt("host:port that must NOT answer on TCP where the station must be offline "
                                      "(network.isolated)", check=_host_port,
                                      example=["77.88.8.8:53", "8.8.8.8:53", "1.1.1.1:443", "ya.ru:443"],
                                      factory=lambda: list(DEFAULT_PROBES))
    probe_timeout: timedelta = _opt("TCP connect timeout per internet probe", check=_positive, example="2s",
                                    default=timedelta(seconds=2))
    minimums: Minimums = _opt("the station's minimums, over the profile's", factory=Minimums)
    required: list[RequiredSoftware] = _opt("required software", factory=list)


@dataclass(frozen=True)
class AntivirusSection:
    """The antivirus the pre-check asks."""
    engine: str = _opt("auto | clamav | defender | kaspersky | drweb", check=_one_of(*ENGINES),
                       example="auto", default="auto")
    clamd_socket: str = _opt("clamd's local socket, or tcp://host:port (Windows: tcp://127.0.0.1:3310, "
                             "which the default means there)", check=_clamd_address,
                             example="/run/clamav/clamd.ctl", default="/run/clamav/clamd.ctl")
    max_signature_age: timedelta = _opt("signatures older than this are outdated", check=_positive,
                                        example="7d", default=timedelta(days=7))
    database: str = _opt("ClamAV's database folder (default: from clamd.conf, else /var/lib/clamav)",
                         example="", default="")


@dataclass(frozen=True)
class JournalSection:
    """The access journal of the ПАК."""
    path: str = _opt("where the journal is kept: a SQLite file (default: <data dir>/journal.sqlite) or a "
                     "postgresql:// URL (this ППЭ's chain, by [ppe] region and code)", check=_journal_location,
                     example="", default="")


@dataclass(frozen=True)
class RegionSection:
    """The regional centre's database (РЦОИ): where `journal push` sends and `region verify` reads."""
    db: str = _opt("postgresql:// URL; the password is better kept in PGPASSWORD or ~/.pgpass",
                   check=_postgres_url, example="postgresql://ppe_0123@rcoi.example/journals", default="",
                   placeholder=True)


@dataclass(frozen=True)
class Config:
    ppe: PpeSection = field(default_factory=PpeSection)
    cameras: list[Camera] = field(default_factory=list)
    recording: RecordingSection = field(default_factory=RecordingSection)
    health: HealthSection = field(default_factory=HealthSection)
    onvif: OnvifSection = field(default_factory=OnvifSection)
    exams: list[Exam] = field(default_factory=list)
    checks: ChecksSection = field(default_factory=ChecksSection)
    antivirus: AntivirusSection = field(default_factory=AntivirusSection)
    journal: JournalSection = field(default_factory=JournalSection)
    region: RegionSection = field(default_factory=RegionSection)
    source: Path | None = field(default=None, compare=False)

    def exam(self, exam_id: str) -> Exam:
        for exam in self.exams:
            if exam.id == exam_id:
                return exam
        known = ", ".join(e.id for e in self.exams) or "none configured"
        raise BadInput(_("unknown exam id {id!r} (known: {known})").format(id=exam_id, known=known))


# -- loading ----------------------------------------------------------------------------

class _Locator:
    """Finds the line of a key path in TOML source (tables, arrays of tables, keys)."""

    _ARRAY = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.-]+)\s*\]\]")
    _TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.-]+)\s*\]")
    _KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=')

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        counters: dict[tuple, int] = {}
        prefix: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if m := self._ARRAY.match(line):
                names = tuple(m.group(1).split("."))
                base = self._resolve(names[:-1], counters)
                key = base + (names[-1],)
                index = counters.get(key, -1) + 1
                counters[key] = index
                prefix = key + (index,)
            elif m := self._TABLE.match(line):
                prefix = self._resolve(tuple(m.group(1).split(".")), counters)
            elif m := self._KEY.match(line):
                self.lines.setdefault(prefix + (m.group(1).strip('"'),), number)
                continue
            else:
                continue
            self.lines.setdefault(prefix, number)

    @staticmethod
    def _resolve(names: tuple, counters: dict[tuple, int]) -> tuple:
        # a table under an array of tables refers to its latest element
        out: tuple = ()
        for name in names:
            out = out + (name,)
            if out in counters:
                out = out + (counters[out],)
        return out

    def line(self, path: tuple) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Validator:
    def __init__(self, source: str, locator: _Locator):
        self.source = source
        self.locator = locator
        self.problems: list[tuple[int, str]] = []

    def problem(self, path: tuple, message: str) -> None:
        line = self.locator.line(path)
        where = f"{self.source}:{line}" if line else self.source
        self.problems.append((line or 0, f"{where}: {_dotted(path)}: {mask_url(message)}"))

    def build(self, cls: type, raw: Any, path: tuple) -> Any:
        if not isinstance(raw, dict):
            self.problem(path, _("expected a table, got {got}").format(got=_describe(raw)))
            return cls() if not _required_fields(cls) else None
        hints = typing.get_type_hints(cls)
        known = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "source"]
        for key in raw:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
                hint = (_("did you mean '{key}'?").format(key=close[0]) if close
                        else _("valid keys: {keys}").format(keys=", ".join(known)))
                self.problem(path + (key,), _("unknown key") + "; " + hint)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in known:
                continue
            if f.name not in raw:
                if f.metadata.get("required"):
                    self.problem(path, _("missing required key '{key}' ({doc})").format(key=f.name, doc=f.metadata.get("doc")))
                continue
            value = self.value(hints[f.name], raw[f.name], path + (f.name,))
            if value is _INVALID:
                continue
            check = f.metadata.get("check")
            if check is not None:
                items = value if isinstance(value, list) else [value]
                for item in items:
                    expected = check(item)
                    if expected:
                        self.problem(path + (f.name,), _("{value} is not valid (expected {expected})").format(
                            value=_show(item), expected=expected))
                        value = _INVALID
                        break
            if value is not _INVALID:
                values[f.name] = value
        try:
            return cls(**values)
        except TypeError:
            return None

    def value(self, hint: Any, raw: Any, path: tuple) -> Any:
        if typing.get_origin(hint) in (typing.Union, types.UnionType):  # `X | None`: an optional table or value
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
        if origin is list:
            (item_type,) = typing.get_args(hint)
            if not isinstance(raw, list):
                self.problem(path, _("expected a list, got {got}").format(got=_describe(raw)))
                return _INVALID
            items = [self.value(item_type, item, path + (i,)) for i, item in enumerate(raw)]
            return [i for i in items if i is not _INVALID and i is not None]
        if dataclasses.is_dataclass(hint):
            return self.build(hint, raw, path)
        if hint is bool:
            if not isinstance(raw, bool):
                self.problem(path, _("expected true or false, got {got}").format(got=_describe(raw)))
                return _INVALID
            return raw
        if hint is int:
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.problem(path, _("expected a whole number, got {got}").format(got=_describe(raw)))
                return _INVALID
            return raw
        if hint is float:
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                self.problem(path, _("expected a number, got {got}").format(got=_describe(raw)))
                return _INVALID
            return float(raw)
        parse = _PARSERS.get(hint)
        if not isinstance(raw, str):
            expected = _EXPECTED.get(hint, "a string")
            problem = _("expected {expected}, got {got}").format(expected=expected, got=_describe(raw))
            if isinstance(raw, (dt.datetime, dt.date, dt.time)):  # TOML's own date, written without quotes
                problem += "; " + _("put dates and times in quotes")
            self.problem(path, problem)
            return _INVALID
        if parse is None:
            return raw
        try:
            return parse(raw)
        except ValueError as exc:
            self.problem(path, str(exc))
            return _INVALID


_INVALID = object()
_PARSERS: dict[Any, Callable[[str], Any]] = {
    timedelta: parse_duration,
    ByteSize: lambda s: ByteSize(parse_size(s)),
    LocalDateTime: lambda s: LocalDateTime.fromisoformat(parse_local_datetime(s).isoformat()),
}
_EXPECTED = {timedelta: "a duration such as \"60s\"", ByteSize: "a size such as \"10GiB\"",
             LocalDateTime: "a local time such as \"2026-06-01T10:00\""}


def _describe(raw: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return f"{kinds.get(type(raw), type(raw).__name__)} ({_show(raw)})"


def _show(raw: Any) -> str:
    if isinstance(raw, timedelta):
        return repr(format_duration(raw))
    text = json.dumps(raw, ensure_ascii=False, default=str) if not isinstance(raw, dict) else "{…}"
    return text if len(text) <= 80 else text[:77] + "…"


def _required_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("required")]


def _check_unique(validator: _Validator, section: str, raw_items: Any) -> None:
    if not isinstance(raw_items, list):
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(raw_items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            continue
        if item_id in seen:
            validator.problem((section, index, "id"), _("duplicate id {id!r} (also {other})").format(
                id=item_id, other=_dotted((section, seen[item_id]))))
        else:
            seen[item_id] = index


def _load_toml(text: str, source: str) -> dict:
    """The TOML document, or ConfigError naming the file and line where it is not TOML."""
    text = text.removeprefix("\ufeff")  # a byte order mark, as Windows Notepad writes it
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError([_("{where}: not valid TOML: nested too deeply").format(where=source)]) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", message)
        where = f"{source}:{m.group(1)}" if m else source
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        line = text.splitlines()[int(m.group(1)) - 1] if m and int(m.group(1)) <= len(text.splitlines()) else ""
        if _BACKSLASH_IN_DOUBLE_QUOTES.search(line):
            raise ConfigError([_("{where}: not valid TOML: {message}: a Windows path in double quotes; "
                                 "use single quotes, as in 'C:\\Exam\\Station'").format(where=where, message=message)]) from None
        unquoted = _UNQUOTED_DATE.match(line)
        if unquoted:
            raise ConfigError([_("{where}: not valid TOML: {message}: put dates and times in quotes: {key} = \"{example}\"")
                               .format(where=where, message=message, key=unquoted.group(1),
                                       example=_quoted_example(unquoted.group(2)))]) from None
        raise ConfigError([_("{where}: not valid TOML: {message}").format(where=where, message=message)]) from None


def parse_config(text: str, source: str = "ppe-tech.toml") -> Config:
    """Validate TOML text against the schema; raise ConfigError listing every mistake."""
    raw = _load_toml(text, source)
    validator = _Validator(source, _Locator(text))
    config = validator.build(Config, raw, ())
    if config is not None:
        _check_unique(validator, "cameras", raw.get("cameras"))
        _check_unique(validator, "exams", raw.get("exams"))
        for index, item in enumerate(raw.get("cameras") or []):
            if isinstance(item, dict) and item.get("broadcast") == "offline" and item.get("location") != "auditorium":
                validator.problem(("cameras", index, "broadcast"), _(
                    "broadcast applies to auditorium cameras only (corridors, the entrance and the Штаб are "
                    "never broadcast: their recordings are archived anyway)"))
        for index, item in enumerate(config.checks.required):
            finders = [bool(item.command), bool(item.path), bool(item.registry)]
            if sum(finders) != 1:
                validator.problem(("checks", "required", index),
                                  _("software {name!r} needs exactly one of command, path, registry").format(name=item.name))
    if validator.problems:
        raise ConfigError([text for _line, text in sorted(validator.problems, key=lambda p: p[0])])
    assert config is not None
    return dataclasses.replace(config, source=Path(source))


version_spec = _version_spec
option = _opt  # for schemas of other TOML files (check profiles, software lists)


def parse_as(cls: type, text: str, source: str):
    """Validate TOML text against the data class `cls` as the config is validated (file:line
    for every mistake). Returns (object, validator): the caller adds its own problems with
    `validator.problem(path, text)` and raises ConfigError if `validator.problems`."""
    raw = _load_toml(text, source)
    validator = _Validator(source, _Locator(text))
    built = validator.build(cls, raw, ())
    if built is None:
        raise ConfigError([t for _line, t in sorted(validator.problems, key=lambda p: p[0])]
                          or [_("{where}: not valid").format(where=source)])
    return built, validator


def load_config(path: Path | None, *, explicit: bool) -> Config:
    """Load `path`. A missing file is an error only when the user named it."""
    try:
        exists = path is not None and path.exists()
    except OSError as exc:
        raise EnvironmentFailure(_("cannot reach config file {path}: {error}").format(path=path, error=exc.strerror)) from None
    if path is None or not exists:
        if explicit and path is not None:
            raise BadInput(_("config file {path} does not exist (create one with `ppe-tech init`)").format(path=path))
        return Config()
    if path.is_dir():
        raise BadInput(_("config path {path} is a folder, expected a ppe-tech.toml file").format(path=path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(_("config file {path} is not UTF-8 text").format(path=path)) from None
    except OSError as exc:
        raise EnvironmentFailure(_("cannot read config file {path}: {error}").format(path=path, error=exc.strerror)) from None
    return parse_config(text, str(path))


# -- writing the commented file -----------------------------------------------------------

# an unquoted date or time, the usual TOML mistake: `start = 2026-06-01 10:00`, `date = 01.06.2026`
_UNQUOTED_DATE = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*=\s*(\d{1,4}[-./:]\d{1,2}(?:[-./:]\d{1,4})?(?:[ T]+[\d:]+)?)\s*(?:#.*)?$")


def _quoted_example(value: str) -> str:
    """What the user meant, as this config writes it: 2026-06-01 10:00 -> 2026-06-01T10:00."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2}))?", value.strip())
    if m is None:
        m2 = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]+(\d{1,2}):(\d{2}))?", value.strip())
        if m2 is None:
            return "10:00" if re.fullmatch(r"\d{1,2}:\d{2}", value.strip()) else "2026-06-01T10:00"
        day, month, year, hh, mm = m2.groups()
    else:
        year, month, day, hh, mm = m.groups()
    text = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    return f"{text}T{int(hh):02d}:{mm}" if hh else text


# a double-quoted string holding a backslash: a Windows path written as on Linux
_BACKSLASH_IN_DOUBLE_QUOTES = re.compile(r'"[^"\n]*\\[^"\n]*"')
# what a TOML literal ('single-quoted') string may hold: anything but ' and control characters
_LITERAL_OK = re.compile(r"[^'\x00-\x08\x0a-\x1f\x7f]*")


def toml_string(value: str) -> str:
    """`value` as TOML: a literal 'string' when it holds backslashes (Windows paths, which
    the user then edits without doubling them), else a basic "string"."""
    if "\\" in value and _LITERAL_OK.fullmatch(value):
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return toml_string(str(value))


def _section_lines(cls: type, header: str, values: dict[str, Any], commented: bool,
                   shown: dict[str, Any] | None = None) -> list[str]:
    """A section of `init`'s file: `values` are written live; an example (`shown` over the
    schema's) stays a comment unless it is only the default."""
    doc = (cls.__doc__ or "").strip()
    prefix = "# " if commented else ""
    lines = [f"# {doc}", f"{prefix}{header}"]
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(typing.get_args(hints[f.name])[0] if typing.get_origin(hints[f.name]) is list else hints[f.name]):
            continue
        value = values.get(f.name, (shown or {}).get(f.name, f.metadata.get("example")))
        if f.name not in values and not f.metadata.get("required") and (
                value in (None, "", []) or f.name in (shown or {}) or not _example_is_default(f, hints[f.name])):
            # an example nobody chose stays a comment: only defaults and the user's own values are live
            lines.append(f"# {f.name} = {_toml_value(value if value is not None else '')}    # {f.metadata['doc']}")
            continue
        lines.append(f"{prefix}{f.name} = {_toml_value(value)}    # {f.metadata['doc']}")
    return lines


def _default_of(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None if f.default is dataclasses.MISSING else f.default


def _example_is_default(f: dataclasses.Field, hint: Any) -> bool:
    """Whether writing the field's example live would only restate its default."""
    example = f.metadata.get("example")
    parse = _PARSERS.get(hint)
    if parse is not None and isinstance(example, str) and example:
        try:
            example = parse(example)
        except ValueError:
            return False
    if hint is float and isinstance(example, (int, float)):
        example = float(example)
    return example == _default_of(f)


def holds_passwords(config: Config) -> bool:
    """Whether a camera URL, an ONVIF address or the region's URL carries a password."""
    urls = [c.url for c in config.cameras] + [c.onvif for c in config.cameras] + [config.region.db, config.journal.path]
    return any(mask_url(u) != u for u in urls if u)


def example_values(config: Config) -> list[tuple[str, Any]]:
    """Settings still equal to a made-up example of `ppe-tech init` (a path, host or printer
    nobody chose): (dotted key, value) in schema order, e.g. ("checks.printers", ["HP_LaserJet_Pro"])."""
    found: list[tuple[str, Any]] = []

    def walk(obj: Any, path: tuple) -> None:
        for f in dataclasses.fields(obj):
            if f.name == "source":
                continue
            value = getattr(obj, f.name)
            if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
                for index, item in enumerate(value):
                    walk(item, path + (f.name, index))
            elif dataclasses.is_dataclass(value):
                walk(value, path + (f.name,))
            elif f.metadata.get("placeholder") and value == f.metadata.get("example"):
                found.append((_dotted(path + (f.name,)), value))

    walk(config, ())
    return found


def example_warnings(config: Config) -> list[str]:
    """One line per setting left at `init`'s example, naming the file and the key."""
    where = config.source or "ppe-tech.toml"
    return [_("Warning: {path}: {key} = {value} is the example from `ppe-tech init`, not a setting of this "
              "exam point; put the real value or remove the line.").format(path=where, key=key, value=mask_url(_show(value)))
            for key, value in example_values(config)]


# what `init` writes on Windows where the example is a POSIX path
WINDOWS_EXAMPLES = {
    ("checks", "exam_software"): ["C:\\Program Files\\ExamStation"],
    ("antivirus", "clamd_socket"): "tcp://127.0.0.1:3310",
}


def render_init(ppe: dict[str, str], platform: str | None = None) -> str:
    """The commented ppe-tech.toml that `ppe-tech init` writes (for `platform`, default this one:
    on win32 the examples in the comments are Windows paths, written as TOML literal strings)."""
    windows = (platform or sys.platform) == "win32"

    def examples(section: str) -> dict[str, Any]:
        return {key: value for (where, key), value in WINDOWS_EXAMPLES.items() if windows and where == section}

    out = ["# ppe-tech configuration. Times are local to the exam point; see `ppe-tech --help`.",
           "# Unknown keys and wrong types are reported with their line when a command loads this file.",
           ""]
    out += _section_lines(PpeSection, "[ppe]", ppe, False) + [""]
    out += ["# Cameras: one [[cameras]] block per camera. Remove the '# ' to enable the example."]
    out += _section_lines(Camera, "[[cameras]]", {}, True) + [""]
    out += _section_lines(RecordingSection, "[recording]", {}, False) + [""]
    out += _section_lines(HealthSection, "[health]", {}, False) + [""]
    out += _section_lines(OnvifSection, "[onvif]", {}, False) + [""]
    out += ["# Exams: one [[exams]] block per exam. Remove the '# ' to enable the example."]
    out += _section_lines(Exam, "[[exams]]", {}, True) + [""]
    out += _section_lines(ChecksSection, "[checks]", {}, False, shown=examples("checks")) + [""]
    out += ["# The station's minimums over the profile's; remove the '# ' to set one."]
    out += _section_lines(Minimums, "[checks.minimums]", {}, True) + [""]
    out += ["# Required software: one [[checks.required]] block per program."]
    out += _section_lines(RequiredSoftware, "[[checks.required]]", {}, True) + [""]
    out += _section_lines(AntivirusSection, "[antivirus]", {}, False, shown=examples("antivirus")) + [""]
    out += _section_lines(JournalSection, "[journal]", {}, False) + [""]
    out += _section_lines(RegionSection, "[region]", {}, False)
    return "\n".join(out) + "\n"


def data_dir_from(option: Path | None) -> Path:
    return option if option is not None else paths.platform_data_dir()

