"""Verdicts of checks and the context a check runs in."""

from __future__ import annotations

import enum
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import errno as _errno
import socket as _socket

from ppe_tech.messages import N_, Foreign, Join, M, Msg, Plural, render  # noqa: F401 (checks write their messages with M)
from ppe_tech.secrets import mask_url

_OS_ERRORS = {
    _errno.ECONNREFUSED: N_("connection refused"), _errno.ETIMEDOUT: N_("no answer in time"),
    _errno.EHOSTUNREACH: N_("host unreachable"), _errno.ENETUNREACH: N_("network unreachable"),
    _errno.ECONNRESET: N_("connection reset"), _errno.ENOENT: N_("no such file or folder"),
    _errno.EACCES: N_("access denied"), _errno.EPERM: N_("operation not permitted"),
    _errno.EADDRNOTAVAIL: N_("address not available"), _errno.EIO: N_("input/output error"),
}


def describe_os_error(exc: BaseException) -> Msg:
    """An OS or network error in words of the catalogue (Russian in documents), never the
    system's own English text or an Errno number."""
    if isinstance(exc, _socket.gaierror):
        return M("host name not resolved")
    if isinstance(exc, (TimeoutError, _socket.timeout)):
        return M("no answer in time")
    code = getattr(exc, "errno", None)
    if code in _OS_ERRORS:
        return M(_OS_ERRORS[code])
    return M("system error {detail}", detail=Foreign(getattr(exc, "strerror", None) or exc, N_("(see the JSON report)")))


def processes(attrs: list[str]):
    """psutil.process_iter(attrs) as dicts, outliving a process that ends while it is read: one
    gone is left out, an attribute that cannot be read is None. Windows (and Wine) can raise a
    plain OSError ("Invalid handle") for a process that just exited, which psutil passes on and
    process_iter would let end the whole listing, and the check with it."""
    import psutil

    for proc in psutil.process_iter():
        info: dict[str, Any] = {}
        try:
            for attr in attrs:
                try:
                    info.update(proc.as_dict([attr]))
                except (psutil.AccessDenied, OSError):
                    info[attr] = None
        except psutil.NoSuchProcess:
            continue
        yield info


class Status(str, enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"  # the check itself could not run: timed out, crashed, tool broken


SEVERITY = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 2}


@dataclass
class Outcome:
    """What a check function returns."""
    status: Status
    message: Any  # str | Msg | Join
    details: list = field(default_factory=list)  # of str | Msg | Join
    data: dict[str, Any] = field(default_factory=dict)


def passed(message: Any, details: list[str] | None = None, **data: Any) -> Outcome:
    return Outcome(Status.PASS, message, details or [], data)


def warned(message: Any, details: list[str] | None = None, **data: Any) -> Outcome:
    return Outcome(Status.WARN, message, details or [], data)


def failed(message: Any, details: list[str] | None = None, **data: Any) -> Outcome:
    return Outcome(Status.FAIL, message, details or [], data)


def skipped(message: Any) -> Outcome:
    return Outcome(Status.SKIP, message)


def errored(message: Any) -> Outcome:
    return Outcome(Status.ERROR, message)


@dataclass
class Result:
    id: str
    title: str
    status: Status
    message: str
    duration_ms: int
    details: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    message_ru: str = ""  # for the printed protocol, which is always Russian
    details_ru: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:  # every report of a check (terminal, JSON, JUnit, PDF) is masked here
        self.message, self.message_ru = mask_url(self.message), mask_url(self.message_ru)
        self.details = [mask_url(d) for d in self.details]
        self.details_ru = [mask_url(d) for d in self.details_ru]

    def as_json(self) -> dict:
        return {"id": self.id, "title": self.title, "status": self.status.value, "message": self.message,
                "duration_ms": self.duration_ms, "details": self.details, **({"data": self.data} if self.data else {})}


def overall(results: list[Result]) -> Status:
    """pass, warn, fail or error for the whole run (error beats fail: the run is unproven)."""
    statuses = {r.status for r in results}
    for status in (Status.ERROR, Status.FAIL, Status.WARN):
        if status in statuses:
            return status
    return Status.PASS


class CheckTimeout(Exception):
    """A command inside a check ran past the check's deadline."""


@dataclass
class Commands:
    """Runs external commands for a check, never past its deadline; replaced in tests by
    recorded outputs for tools that cannot run here (Defender, Kaspersky, Dr.Web)."""
    deadline: float = float("inf")  # time.monotonic() value

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, args: list[str], timeout: float | None = None, input: bytes | None = None) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); FileNotFoundError if the program is missing;
        CheckTimeout (after killing the whole process group) at the deadline."""
        limit = self.remaining() if timeout is None else min(timeout, self.remaining())
        if limit <= 0:
            raise CheckTimeout(args[0])
        kwargs: dict[str, Any] = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        else:
            kwargs["start_new_session"] = True  # so a timeout kills its children too
        proc = subprocess.Popen(args, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
        try:
            out, err = proc.communicate(input, timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            proc.communicate()
            raise CheckTimeout(args[0]) from None
        return proc.returncode, _text(out), _text(err)


def _text(raw: bytes) -> str:
    for encoding in ("utf-8", "cp866" if sys.platform == "win32" else "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def _kill_tree(proc: subprocess.Popen) -> None:
    try:
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, subprocess.SubprocessError):
        proc.kill()


@dataclass(frozen=True)
class Check:
    """A check: a stable id, a Russian title for documents, an English one for the terminal."""
    id: str
    title: str
    title_ru: str
    func: Callable[..., Outcome]
    timeout: Callable[[Any], float] | None = None  # seconds, from the config; None: the default
