"""Shared fixtures: an isolated data dir, the CLI in-process, journals built fast."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from video import simulator as simulator_process

ROOT = Path(__file__).resolve().parents[1]


def _under_wine() -> bool:
    if sys.platform != "win32":
        return False
    import ctypes

    try:
        return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")
    except OSError:
        return False


# Windows CPython under Wine (`make test-windows`): it cannot start Linux programs (subprocess
# fails with "Invalid handle"), and Wine's schtasks/powershell are silent stubs.
UNDER_WINE = _under_wine()
WINE_NO_HOST_TOOLS = "under Wine: {tool} is a Linux program, and Windows Python under Wine cannot start those"
WINE_NO_SYMLINKS = "under Wine: os.symlink leaves no reparse point that lstat sees, so there is no link to test"
# the hard kill: SIGKILL on POSIX; on Windows os.kill(pid, SIGTERM) is TerminateProcess, no cleanup either
HARD_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
WINDOWS_NO_FIFOS = "Windows has no FIFOs in the file system (its named pipes live only under \\\\.\\pipe\\)"


def pytest_terminal_summary(terminalreporter) -> None:
    """Under Wine, the ffmpeg and Python processes still running when the suite ends, named: on
    Linux each test's processes die with its namespace or fixture, but a Windows process the
    tests left behind lives on until `wine.sh` stops the wineserver, which then only dumps its
    objects. Printed, not failed: it says which test to look at."""
    if not UNDER_WINE:
        return
    import psutil

    ours = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    left = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        name = (proc.info["name"] or "").lower()
        if proc.info["pid"] in ours or name not in {"ffmpeg.exe", "ffprobe.exe", "python.exe", "ppe-tech.exe"}:
            continue
        left.append(f"pid {proc.info['pid']}: {' '.join(proc.info['cmdline'] or [name])[:300]}")
    if left:
        terminalreporter.section("processes the tests left running (Wine)")
        for line in left:
            terminalreporter.write_line(line)


def host_tool(name: str) -> str:
    """`name` (pdftotext, clamd, initdb, unshare...) to run; under Wine the test skips, naming Wine."""
    if UNDER_WINE:
        pytest.skip(WINE_NO_HOST_TOOLS.format(tool=name))
    return name


def symlink(link: Path, target: Path) -> None:
    """link -> target, or skip: under Wine there is no link to test, and on Windows creating one
    needs the privilege or Developer Mode."""
    if UNDER_WINE:
        pytest.skip(WINE_NO_SYMLINKS)
    try:
        link.symlink_to(target)
    except OSError as exc:
        pytest.skip(f"this account cannot create symbolic links: {exc}")


def toml_str(value) -> str:
    """A path or text as a TOML string the way init writes it ('C:\\x' literal on Windows)."""
    from ppe_tech.config import toml_string

    return toml_string(str(value))


def skip_under_wine(tool: str):
    """A mark for tests that need a Linux program for their whole length."""
    return pytest.mark.skipif(UNDER_WINE, reason=WINE_NO_HOST_TOOLS.format(tool=tool))
PASSPHRASE = "correct horse battery"
SPECIALIST = ("Иванов Иван Иванович", "технический специалист")
HEAD = ("Петров Алексей Андреевич", "руководитель ППЭ")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)

    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


# The exam point every test's station belongs to: a journal is started only for a ППЭ with its codes.
PPE_SECTION = '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A working folder with its own data dir; the passphrase comes from the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PPE_TECH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PPE_TECH_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PPE_TECH_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    (tmp_path / "ppe-tech.toml").write_text(PPE_SECTION, encoding="utf-8")
    monkeypatch.setenv("APPDATA", str(tmp_path / "xdg-config"))  # Windows' user config folder: the same place
    return tmp_path


@pytest.fixture
def ppe(home, capsys):
    """Run `ppe-tech ARGS...` in-process; returns Result(code, out, err)."""
    from ppe_tech.cli import run

    def call(*args: str) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return call


@pytest.fixture
def people(ppe):
    """Keys for the specialist, the head of the ППЭ and the station; returns their ids."""
    ids = {}
    for role, (name, position) in (("specialist", SPECIALIST), ("head", HEAD)):
        r = ppe("keys", "create", "--name", name, "--position", position, "--json")
        assert r.code == 0, r.err
        ids[role] = r.json["key_id"]
    r = ppe("keys", "create", "--station", "--json")
    assert r.code == 0, r.err
    ids["station"] = r.json["key_id"]
    return ids


class Clock:
    """A clock that advances one second per call, from a fixed start."""

    def __init__(self, start: datetime = datetime(2026, 6, 1, 5, 0, tzinfo=timezone.utc)):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def build_journal(path: Path, keys_dir: Path, entries: int, *, durable: bool = False, confirm_every: int = 0,
                  action: str = "Проверка работоспособности", region: str = "77", ppe: str = "0123"):
    """A journal with a specialist, a head and a station key, and `entries` entries (fast: no fsync)."""
    from journal import keystore
    from journal.journal import Journal, create_key

    clock = Clock()
    with Journal.open(path, create=True, durable=durable, clock=clock, region=region, ppe=ppe) as j:
        spec = create_key(j, keys_dir, name=SPECIALIST[0], position=SPECIALIST[1], station=False, passphrase=PASSPHRASE)
        head = create_key(j, keys_dir, name=HEAD[0], position=HEAD[1], station=False, passphrase=PASSPHRASE)
        station = create_key(j, keys_dir, name="Станция ППЭ 0123", position="автоматические действия",
                             station=True, passphrase=None)
        signers = {k.key_id: keystore.load_signer(keystore.find_key_file(keys_dir, k.key_id), PASSPHRASE)
                   for k in (spec, head, station)}
        for n in range(1, entries + 1):
            by = station if n % 3 == 0 else spec
            j.add(date="2026-06-01", room=f"{n % 17 + 1:04d}", start="08:00", end="08:15",
                  action=f"{action} {n}", by=by.key_id, signer=signers[by.key_id])
            if confirm_every and n % confirm_every == 0:
                j.confirm(by=head.key_id, signer=signers[head.key_id])
    return {"specialist": spec, "head": head, "station": station, "signers": signers, "clock": clock}


def wait_for(predicate, timeout: float, step: float = 0.5):
    """Poll `predicate` until it is truthy or `timeout` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def venv_python() -> str:
    return sys.executable


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: the installed package, never the checkout.

    PYTHONSAFEPATH keeps `python -m …` and `python -c …` from putting the current
    folder first on sys.path, so a child started in the source tree still imports the
    installed copy (tests/test_install.py proves which copy was imported)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONUTF8", None)  # make test-windows sets it for pytest alone: children get the code page
    env["PYTHONSAFEPATH"] = "1"
    env.update(extra)
    return env


class Simulator(simulator_process.Running):
    """The simulator subprocess for tests, with a helper writing [[cameras]] blocks."""

    def __init__(self, specs: list[dict], cache: Path):
        super().__init__(specs, cache, cache.parent / f"spec-{os.getpid()}-{id(self)}.json", env=subprocess_env(),
                         cwd=ROOT)

    def config(self, names: list[str] | None = None, **camera_extra) -> str:
        """[[cameras]] blocks for these simulated cameras (all by default)."""
        blocks = []
        for i, name in enumerate(names or list(self.cameras)):
            extra = "".join(f'{k} = {json.dumps(v, ensure_ascii=False)}\n' for k, v in camera_extra.items())
            location = "corridor" if i % 3 == 0 else ("entrance" if i % 3 == 1 else "auditorium")
            blocks.append(f'[[cameras]]\nid = "{name}"\nlocation = "{location}"\nroom = "помещение {name}"\n'
                          f'url = "{self.url(name)}"\n{extra}')
        return "\n".join(blocks)


@pytest.fixture(scope="session")
def sim_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("sim-cache")


SIM_CAMERAS = [
    {"name": "live-1"}, {"name": "live-2"},
    {"name": "black", "picture": "black"}, {"name": "frozen", "picture": "frozen"},
    {"name": "blurred", "picture": "blurred"}, {"name": "covered", "picture": "covered"},
    {"name": "lowres", "width": 640, "height": 360}, {"name": "lowfps", "fps": 5},
    {"name": "silent", "fault": "silent"}, {"name": "offline", "fault": "offline"},
    {"name": "secured", "user": "admin", "password": "s3cr3t-pass"},
]


@pytest.fixture(scope="session")
def simulator(sim_cache):
    """One simulator for the session with a camera for every fault."""
    sim = Simulator(SIM_CAMERAS, sim_cache)
    yield sim
    sim.stop()


def shows_room(text: str, room: str) -> bool:
    """Whether a printed document names `room` (four digits such as 0101) as such, not inside a
    key id, a hash or a key's fingerprint, whose hex digits may hold the same four by chance."""
    import re

    lines = [line for line in text.splitlines() if "SHA256:" not in line]
    return re.search(rf"(?<![0-9a-fA-F]){re.escape(room)}(?![0-9a-fA-F])", "\n".join(lines)) is not None
