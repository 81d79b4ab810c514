"""Secrets: masking credentials in URLs and reading passphrases.

Passphrases come from a file (`--passphrase-file`), the environment
(`PPE_TECH_PASSPHRASE`) or the terminal, in that order; they are never echoed.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path
from typing import BinaryIO, Callable
from urllib.parse import unquote

from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _

PASSPHRASE_ENV = "PPE_TECH_PASSPHRASE"

# The scheme, then the authority up to the first '/', '?', '#', blank, or the next URL's scheme.
# The userinfo is everything before the authority's LAST '@' (ffmpeg's av_url_split and
# urllib do the same), so a password holding '@' is masked whole, percent-encoded or not.
_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)"
                  r"(?P<authority>(?:(?![a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s])*)")
# PostgreSQL: `?password=…` / `&sslpassword=…` in a URL's query, and `password=…` (bare or
# 'quoted') in a keyword/value connection string such as `host=… password=…`.
_QUERY_SECRET = re.compile(r"(?i)(?<=[?&;])((?:ssl)?password)=[^&#\s]*")
_KEYWORD_SECRET = re.compile(r"(?i)(?<![?&;\w])((?:pg|ssl)?password)(\s*=\s*)('(?:\\.|[^'\\])*'?|\S+)")
_MIN_KNOWN = 4  # shorter known secrets would mask ordinary words; their URL form is masked anyway


def _mask_authority(m: re.Match) -> str:
    userinfo, at, host = m["authority"].rpartition("@")
    if not at:
        return m[0]
    user, colon, _password = userinfo.partition(":")
    return f"{m['scheme']}{user}:***@{host}" if colon else m[0]


def passwords_in(text: str) -> set[str]:
    """Every password `text` carries (URL userinfo, query or keyword form), as written and decoded."""
    found: set[str] = set()
    for m in _URL.finditer(text):
        userinfo, at, _host = m["authority"].rpartition("@")
        _user, colon, password = userinfo.partition(":")
        if at and colon and password:
            found.add(password)
    for m in _QUERY_SECRET.finditer(text):
        found.add(m[0].split("=", 1)[1])
    for m in _KEYWORD_SECRET.finditer(text):
        found.add(m[3].strip("'\""))
    return {form for p in found if p for form in (p, unquote(p))}


def mask_url(text: str, *, known: str | None = None) -> str:
    """The one masking rule for every output (errors, tracebacks, logs, JSON, PDFs, ffmpeg logs).

    Every URL's password becomes `***` (rtsp://user:***@host/...), so do `password=` values
    of PostgreSQL queries and keyword strings; the password of `known` (the URL a program's
    output or a driver's error is about) is masked wherever it appears, as written or decoded.
    """
    text = _URL.sub(_mask_authority, text)
    text = _QUERY_SECRET.sub(lambda m: f"{m[1]}=***", text)
    text = _KEYWORD_SECRET.sub(lambda m: f"{m[1]}{m[2]}***", text)
    secrets = {p for p in (passwords_in(known) if known else ()) if len(p) >= _MIN_KNOWN}
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret != "***" and secret in text:
            text = text.replace(secret, "***")
    return text


def open_private_log(path: Path) -> BinaryIO:
    """`path` opened for appending, mode 0600 (made so if it was not), never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab", buffering=0)


def copy_masked(stream: BinaryIO, path: Path, *, known: str | None = None) -> threading.Thread:
    """Copy a program's output `stream` into the private log `path`, each line masked before
    it is written (ffmpeg prints the URL it could not open, password and all)."""
    sink = open_private_log(path)

    def pump() -> None:
        with sink, stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                sink.write(mask_url(line, known=known).encode("utf-8"))

    thread = threading.Thread(target=pump, name=f"log {path.name}", daemon=True)
    thread.start()
    return thread


def read_passphrase_file(path: Path) -> str:
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(_("passphrase file {path} does not exist").format(path=path)) from None
    except UnicodeDecodeError:
        raise BadInput(_("passphrase file {path} is not UTF-8 text").format(path=path)) from None
    except OSError as exc:
        raise EnvironmentFailure(_("cannot read passphrase file {path}: {error}").format(path=path, error=exc)) from None
    passphrase = data.rstrip("\r\n")
    if not passphrase:
        raise BadInput(_("passphrase file {path} is empty").format(path=path))
    return passphrase


class PassphraseSource:
    """Where passphrases come from in one command: a file, the environment or a prompt."""

    def __init__(self, file: Path | None = None, prompt: Callable[[str, bool], str] | None = None,
                 environ: dict[str, str] | None = None):
        self.file = file
        self.prompt = prompt
        self.environ = os.environ if environ is None else environ

    def get(self, what: str, *, confirm: bool = False) -> str:
        """The passphrase for `what` (a key's description)."""
        if self.file is not None:
            return read_passphrase_file(self.file)
        env = self.environ.get(PASSPHRASE_ENV)
        if env:
            return env
        if self.prompt is not None and sys.stdin is not None and sys.stdin.isatty():
            return self.prompt(what, confirm)
        raise BadInput(
            _("a passphrase is needed for {what}: run in a terminal, or give --passphrase-file FILE or set {env}").format(
                what=what, env=PASSPHRASE_ENV))
