"""Exit codes and the errors that carry them (the contract's 0/1/2/3).

Domain code raises these; the CLI turns them into one line on stderr and the exit
code. Anything else that escapes is an internal error (exit 3, traceback with --debug).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NEGATIVE = 1  # a negative result: tampering found, a check failed, ...
    USAGE = 2  # bad usage or bad input
    ENVIRONMENT = 3  # the environment stopped the command, or an internal error
    INTERRUPTED = 130


class PpeError(Exception):
    """An expected failure, shown as one line. Subclasses choose the exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInput(PpeError):
    """Bad usage or input: a value, a file, an id, a passphrase (exit 2)."""

    exit_code = ExitCode.USAGE


class ConfigError(BadInput):
    """An invalid configuration; `problems` holds one line per mistake."""

    def __init__(self, problems: list[str]):
        super().__init__(problems[0] if problems else "invalid configuration")
        self.problems = problems


class Tampered(PpeError):
    """A document whose signature no longer holds: tampering found, a negative result (exit 1)."""

    exit_code = ExitCode.NEGATIVE


class EnvironmentFailure(PpeError):
    """The environment stopped the command: unreadable file, disk full (exit 3)."""

    exit_code = ExitCode.ENVIRONMENT
