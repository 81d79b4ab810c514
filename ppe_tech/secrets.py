"""Secrets: masking credentials in URLs and reading passphrases.

Passphrases come from a file (`--passphrase-file`), the environment
(`PPE_TECH_PASSPHRASE`) or the terminal, in that order; they are never echoed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Callable

from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _

PASSPHRASE_ENV = "PPE_TECH_PASSPHRASE"

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]*)@")


def mask_url(text: str) -> str:
    """Replace the password of every URL in `text` by `***`: rtsp://user:***@host/..."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def read_passphrase_file(path: Path) -> str:
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(_("passphrase file {path} does not exist").format(path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
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
