"""The per-invocation environment the commands share: config, data dir, clock, streams.

Commands receive one `App`; tests build one with their own data dir and clock.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import click

from ppe_tech import paths
from ppe_tech.config import Config, load_config
from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.outputs import atomic_output, check_output, describe_os_error, write_output  # noqa: F401 (commands take them from here)
from ppe_tech.secrets import PassphraseSource, mask_url
from ppe_tech.timeutil import utc_now, zone


def _prompt(what: str, confirm: bool) -> str:
    return click.prompt(_("Passphrase for {what}").format(what=what), hide_input=True,
                        confirmation_prompt=confirm, err=True)


@dataclass
class App:
    config_path: Path | None
    config_explicit: bool
    data_dir: Path
    debug: bool = False
    clock: Callable[[], datetime] = utc_now
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, explicit=self.config_explicit)
        return self._config

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.config.ppe.timezone)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def recordings_dir(self) -> Path:
        configured = self.config.recording.dir
        return Path(configured) if configured else self.data_dir / "recordings"

    @property
    def recorder_dir(self) -> Path:
        return self.data_dir / "recorder"

    @property
    def journal_location(self) -> Path | str:
        """The journal's SQLite file, or the postgresql:// URL of the region's database."""
        configured = self.config.journal.path
        if configured.startswith(("postgresql://", "postgres://")):
            return configured
        return Path(configured) if configured else self.data_dir / "journal.sqlite"

    def has_journal(self) -> bool:
        location = self.journal_location
        if isinstance(location, Path):
            return location.exists()
        try:
            with self.open_journal(readonly=True):
                return True
        except BadInput:
            return False

    def open_journal(self, *, create: bool = False, readonly: bool = False):
        """The journal of this exam point; `create` starts one if there is none, `readonly` never writes."""
        from journal.journal import Journal

        return Journal.open(self.journal_location, create=create, readonly=readonly, clock=self.clock,
                            region=self.config.ppe.region, ppe=self.config.ppe.code)

    def passphrases(self, file: Path | None) -> PassphraseSource:
        return PassphraseSource(file=file, prompt=_prompt)

    def now_local(self) -> datetime:
        return self.clock().astimezone(self.tz)


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    """Print the result: one JSON document on stdout with --json (secrets masked), else the human form."""
    if as_json:
        click.echo(mask_url(json.dumps(data, ensure_ascii=False, indent=2)))
    else:
        human()


def read_input(path: Path, what: str) -> bytes:
    """The bytes of a file the user named: missing is bad input (2), unreadable the environment (3)."""
    try:
        return Path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise BadInput(_("{what} {path} does not exist or is not a file").format(what=what, path=path)) from None
    except OSError as exc:
        raise EnvironmentFailure(_("cannot read {what} {path}: {error}").format(what=what, path=path, error=exc.strerror)) from None


def resolve_app(config: Path | None, data_dir: Path | None, debug: bool) -> App:
    """`config` and `data_dir` come from the options or their environment variables (click reads both)."""
    return App(config_path=config or paths.default_config_path(), config_explicit=config is not None,
               data_dir=data_dir or paths.platform_data_dir(), debug=debug)


@contextmanager
def progress(total: int, label: str, *, threshold: int = 20_000) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for long work, only on a terminal and above `threshold` items."""
    if total < threshold or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True) as bar:
        yield bar.update


def stderr(message: str) -> None:
    click.echo(message, err=True)


def is_tty() -> bool:
    return sys.stdout.isatty()


def load_signer(app: App, key_ref: str, passphrase_file: Path | None):
    """The private key `key_ref` from the data dir, unlocked: (KeyFile, Signer)."""
    from journal import keystore

    key = keystore.find_key_file(app.keys_dir, key_ref)
    passphrase = None
    if keystore.needs_passphrase(key):
        passphrase = app.passphrases(passphrase_file).get(f"{key.key_id} ({key.name})")
    return key, keystore.load_signer(key, passphrase)


def station_or_person_signer(app: App, key_ref: str | None, passphrase_file: Path | None):
    """The key that signs an automatic journal entry: `key_ref` if given, else the station's key.

    Returns (KeyFile, Signer), or None when no station key exists and none was named.
    """
    from journal import keystore

    if key_ref:
        return load_signer(app, key_ref, passphrase_file)
    stations = [k for k in keystore.list_key_files(app.keys_dir) if k.role == "station" and not k.encrypted]
    if not stations or not app.has_journal():
        return None
    with app.open_journal(readonly=True) as journal:
        valid = {k.key_id for k in journal.state().keys.values() if k.revoked_seq is None}
    for key in stations:
        if key.key_id in valid:
            return key, keystore.load_signer(key, None)
    return None


def journal_action(app: App, action: str, room: str, key_ref: str | None, passphrase_file: Path | None,
                   start: datetime | None = None, signer=None) -> int | None:
    """Append an action on the video equipment to the journal; the entry number, or None
    (with a warning) when no key can sign it. `signer`: a (KeyFile, Signer) already unlocked."""
    if signer is None:
        signer = station_or_person_signer(app, key_ref, passphrase_file)
    if signer is None:
        click.echo(_("Warning: no station key (`ppe-tech keys create --station`) and no --key: "
                     "«{action}» was not recorded in the journal.").format(action=action), err=True)
        return None
    key_file, sig = signer
    now = app.now_local()
    begin = start.astimezone(app.tz) if start is not None else now
    end = now.strftime("%H:%M") if start is not None and now.strftime("%H:%M") != begin.strftime("%H:%M") else None
    with app.open_journal() as journal:
        appended = journal.add(date=begin.date().isoformat(), room=room, start=begin.strftime("%H:%M"), end=end,
                               action=action, by=key_file.key_id, signer=sig)
    return appended.number
