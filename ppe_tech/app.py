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
    # keys unlocked in this command, by the reference given: a passphrase is asked once per command
    _signers: dict = field(default_factory=dict, repr=False)
    key_file: Path | None = None  # --key-file: the signing key on removable media
    real_data_dir: Path | None = None  # set in a rehearsal (`--rehearsal`): data_dir is then the throwaway one

    @property
    def rehearsal(self) -> bool:
        return self.real_data_dir is not None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, explicit=self.config_explicit)
            self._warn_if_readable()
        return self._config

    def _warn_if_readable(self) -> None:
        """A config holding passwords that other local users can read is named on stderr."""
        from ppe_tech.config import holds_passwords

        path = self._config.source if self._config is not None else None
        if path is None or os.name != "posix" or not holds_passwords(self._config):
            return
        try:
            mode = path.stat().st_mode
        except OSError:
            return
        if mode & 0o077:
            click.echo(_("Warning: {path} holds camera passwords and other users of this computer can read it; "
                         "chmod 600 {path}").format(path=path), err=True)

    def config_candidates(self) -> list[Path]:
        """Where a configuration was looked for: the one named, else ./ppe-tech.toml and the user's config dir."""
        if self.config_explicit and self.config_path is not None:
            return [self.config_path]
        return [Path.cwd() / paths.CONFIG_NAME, paths.platform_config_dir() / paths.CONFIG_NAME]

    def config_found(self) -> bool:
        return self.config_path is not None and self.config_path.exists()

    def require_config(self) -> Config:
        """The configuration, for commands that cannot work without one: none found is bad input (2)
        naming where it was looked for (a command run from another folder must not report «nothing yet»)."""
        if not self.config_found() and not self.config_explicit:
            raise BadInput(_("no configuration found (looked for {where}); run in the folder of ppe-tech.toml, "
                             "give --config PATH (or PPE_TECH_CONFIG), or write one with `ppe-tech init`").format(
                where=", ".join(str(p) for p in self.config_candidates())))
        return self.config

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.config.ppe.timezone)

    @property
    def keys_dir(self) -> Path:
        # a rehearsal signs with the real keys (their passphrases are part of the practice)
        return (self.real_data_dir or self.data_dir) / "keys"

    @property
    def recordings_dir(self) -> Path:
        configured = self.config.recording.dir
        return Path(configured) if configured and not self.rehearsal else self.data_dir / "recordings"

    @property
    def recorder_dir(self) -> Path:
        return self.data_dir / "recorder"

    @property
    def journal_location(self) -> Path | str:
        """The journal's SQLite file, or the postgresql:// URL of the region's database."""
        configured = self.config.journal.path
        if self.rehearsal:
            return self.data_dir / "journal.sqlite"
        if configured.startswith(("postgresql://", "postgres://")):
            return configured
        return Path(configured) if configured else self.data_dir / "journal.sqlite"

    def has_journal(self) -> bool:
        location = self.journal_location
        if self.rehearsal and not Path(location).exists():
            self._seed_rehearsal_journal()  # the rehearsal's journal exists as soon as the rehearsal does
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

        if self.rehearsal and not Path(self.journal_location).exists():
            self._seed_rehearsal_journal()
        if create:
            self.require_ppe_codes()
        return Journal.open(self.journal_location, create=create, readonly=readonly, clock=self.clock,
                            region=self.config.ppe.region, ppe=self.config.ppe.code)

    def require_ppe_codes(self) -> None:
        """A journal is started for one ППЭ: its first record carries [ppe] region and code, and the
        region's database files the chain under them, so a journal begun without them could never be
        pushed. Refused (bad input) before a new journal is made; an existing journal is left as it is."""
        location = self.journal_location
        if isinstance(location, Path) and location.exists():
            return
        ppe = self.config.ppe
        missing = [key for key, value in (("region", ppe.region), ("code", ppe.code)) if not value]
        if missing:
            where = str(self.config_path) if self.config_found() else _("no configuration found")
            raise BadInput(_("{where}: [ppe] {keys} must be set before the journal is started: the journal "
                             "belongs to one ППЭ, e.g. [ppe] region = \"77\", code = \"0123\" (`ppe-tech init` "
                             "writes the section)").format(where=where, keys=" and ".join(missing)))

    def not_in_rehearsal(self, what: str) -> None:
        """Refuse what would reach outside the rehearsal (the region's database, the system's scheduler)."""
        if self.rehearsal:
            raise BadInput(_("{what} is not available in a rehearsal: it would reach beyond the throwaway "
                             "data dir; run it without --rehearsal").format(what=what))

    def _seed_rehearsal_journal(self) -> None:
        """A new rehearsal journal holding the public keys of the real one (so people sign as themselves)."""
        from journal.journal import Journal, export_public, import_public

        real = App(self.config_path, self.config_explicit, self.real_data_dir or self.data_dir, self.debug,
                   self.clock, self._config)
        keys = []
        if real.has_journal():
            with real.open_journal(readonly=True) as journal:
                keys = [k for k in journal.state().keys.values() if k.revoked_seq is None]
        with Journal.open(self.journal_location, create=True, clock=self.clock, region=self.config.ppe.region,
                          ppe=self.config.ppe.code) as journal:
            if keys:
                import_public(journal, export_public(keys), "the real journal")

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


def resolve_app(config: Path | None, data_dir: Path | None, debug: bool, rehearsal: bool = False) -> App:
    """`config` and `data_dir` come from the options or their environment variables (click reads both).
    In a rehearsal the data dir is the throwaway one beside the real data dir."""
    from ppe_tech import rehearsal as rh

    real = data_dir or paths.platform_data_dir()
    app = App(config_path=config or paths.default_config_path(), config_explicit=config is not None,
              data_dir=real, debug=debug)
    if rehearsal:
        folder = rh.folder_for(real)
        rh.prepare(folder, real)
        app.data_dir, app.real_data_dir = folder, Path(real)
    return app


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


def find_key(app: App, key_ref: str | None):
    """The private key file that `--key` / `--key-file` name, not yet unlocked (a KeyFile)."""
    from journal import keystore

    if app.key_file is not None:
        key = keystore.read_key_file(app.key_file)
        if key_ref and not key.key_id.startswith(key_ref.strip().lower()):
            raise BadInput(_("--key {ref} and --key-file {path} ({id}) name different keys").format(
                ref=key_ref, path=app.key_file, id=key.key_id))
        return key
    if not key_ref:
        raise BadInput(_("give --key KEYID or --key-file PATH (see `ppe-tech keys list`)"))
    return keystore.find_key_file(app.keys_dir, key_ref)


def load_signer(app: App, key_ref: str | None, passphrase_file: Path | None):
    """The private key `key_ref` from the data dir, or the one in `--key-file`, unlocked: (KeyFile, Signer)."""
    from journal import keystore

    cache_key = f"file:{app.key_file}" if app.key_file is not None else key_ref
    cached = app._signers.get(cache_key)
    if cached is not None:
        return cached
    key = find_key(app, key_ref)
    passphrase = None
    if keystore.needs_passphrase(key):
        passphrase = app.passphrases(passphrase_file).get(f"{key.key_id} ({key.name})")
    unlocked = key, keystore.load_signer(key, passphrase)
    app._signers[cache_key] = unlocked
    return unlocked


def station_or_person_signer(app: App, key_ref: str | None, passphrase_file: Path | None):
    """The key that signs an automatic journal entry: `key_ref` if given, else the station's key.

    Returns (KeyFile, Signer), or None when no station key exists and none was named.
    """
    from journal import keystore

    if key_ref or app.key_file is not None:
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
                   start: datetime | None = None, signer=None, end: datetime | None = None) -> int | None:
    """Append an action on the video equipment to the journal; the entry number, or None
    (with a warning) when no key can sign it. `signer`: a (KeyFile, Signer) already unlocked.

    Column 4 holds the action's start and, where it is known, its end: an action given its
    `start` ended at `end`, or now, as it is written (a check run, a copy, a stop)."""
    if signer is None:
        signer = station_or_person_signer(app, key_ref, passphrase_file)
    if signer is None:
        click.echo(_("Warning: no station key (`ppe-tech keys create --station`) and no --key: "
                     "«{action}» was not recorded in the journal.").format(action=action), err=True)
        return None
    key_file, sig = signer
    now = app.now_local()
    begin = start.astimezone(app.tz) if start is not None else now
    finish = (end.astimezone(app.tz) if end is not None else now) if start is not None else None
    with app.open_journal() as journal:
        appended = journal.add(date=begin.date().isoformat(), room=room, start=begin.strftime("%H:%M"),
                               end=finish.strftime("%H:%M") if finish is not None else None,
                               action=action, by=key_file.key_id, signer=sig)
    return appended.number
