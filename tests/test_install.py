"""ppe-tech as users get it: the wheel, a fresh environment, the offline bundle with no network.

`make test` builds the wheel, installs it into .venv (not editable) and builds the offline
bundle before pytest runs; these tests install both again, away from the source tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import IS_ROOT, host_tool, HEAD, PASSPHRASE, ROOT, SPECIALIST, subprocess_env

PACKAGES = ["ppe_tech", "checks", "video", "journal", "templates"]
DIST = ROOT / "dist"


@pytest.fixture(scope="module", autouse=True)
def bundle_current():
    """The offline bundle and its wheelhouse match the installed wheel and the lock (`make test`
    builds them first; run directly, pytest brings them up to date here: a no-op when they are)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bundle.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def the_wheel() -> Path:
    wheels = sorted(DIST.glob("ppe_tech-*-py3-none-any.whl"))
    assert len(wheels) == 1, "expected one ppe-tech wheel in dist/: run `make deps` (make test does)"
    return wheels[0]


def the_bundle() -> Path:
    bundles = sorted(DIST.glob("ppe-tech-*-offline-linux-x86_64.tar.gz"))
    assert len(bundles) == 1, "expected the offline bundle in dist/: run `make dist` (make test does)"
    return bundles[0]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: no project paths, its own data and config folders, no pip settings."""
    env = {k: v for k, v in subprocess_env().items() if not k.startswith(("PIP_", "PPE_TECH_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"),
               PPE_TECH_PASSPHRASE=PASSPHRASE, PIP_CONFIG_FILE=os.devnull, LANG="C.UTF-8")
    env.pop("LC_ALL", None)
    env.pop("LANGUAGE", None)
    env.update(extra)
    return env


def journal_round_trip(cli: list[str], env: dict, cwd: Path, pdf: Path) -> None:
    """The config (`init`), two people's keys, an entry, its confirmation, verify, and the printed form."""
    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*cli, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"ppe-tech {' '.join(args)}: {done.stderr}"
        return done

    if not (cwd / "ppe-tech.toml").exists():
        run("init", "--region", "77", "--code", "0123")  # a journal is started for one ППЭ

    spec = json.loads(run("keys", "create", "--name", SPECIALIST[0], "--position", SPECIALIST[1], "--json").stdout)
    head = json.loads(run("keys", "create", "--name", HEAD[0], "--position", HEAD[1], "--json").stdout)
    assert json.loads(run("journal", "add", "--room", "0101", "--action", "Проверка работоспособности",
                          "--start", "08:00", "--end", "08:15", "--key", spec["key_id"], "--json").stdout)["number"] == 1
    run("journal", "confirm", "--key", head["key_id"], "--yes")
    verdict = json.loads(run("journal", "verify", "--json").stdout)
    assert verdict["ok"] is True and verdict["entries"] == 1
    run("journal", "print", "--out", str(pdf))
    text = subprocess.run([host_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Журнал доступа к средствам видеонаблюдения" in text and "Проверка работоспособности" in text


def command_paths(python: Path, env: dict, cwd: Path) -> list[list[str]]:
    """Every command and subcommand of the installed CLI, walked in its own Python."""
    walk = (
        "import json, click\n"
        "from ppe_tech.cli import cli\n"
        "found = []\n"
        "def visit(cmd, ctx, path):\n"
        "    found.append(path)\n"
        "    if isinstance(cmd, click.Group):\n"
        "        for name in cmd.list_commands(ctx):\n"
        "            sub = cmd.get_command(ctx, name)\n"
        "            visit(sub, click.Context(sub, parent=ctx, info_name=name), path + [name])\n"
        "visit(cli, click.Context(cli, info_name='ppe-tech'), [])\n"
        "print(json.dumps(found))\n")
    done = subprocess.run([str(python), "-c", walk], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the wheel's offline bundle and install.sh are "
                                "the Linux installation; under Wine they would need bash, unshare and Linux pip")


def test_the_tests_import_the_installed_package_not_the_checkout():
    """A file missing from the wheel must fail a test, so nothing may come from the source tree."""
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in PACKAGES:
        module = __import__(name)
        where = Path(module.__file__).resolve()
        assert where.is_relative_to(site), f"{name} imported from {where}, not from the installed {site}"
        assert not where.is_relative_to(ROOT) or site.is_relative_to(ROOT), where
        assert not str(where).startswith(str(ROOT / name)), f"{name} imported from the checkout"
    # a child started in the checkout, as the tests start them, imports the installed copy too
    probe = "import ppe_tech, video, journal; print(ppe_tech.__file__); print(video.__file__)"
    done = subprocess.run([sys.executable, "-c", probe], env=subprocess_env(), cwd=ROOT, capture_output=True,
                          text=True, check=True)
    for line in done.stdout.split():
        assert Path(line).resolve().is_relative_to(site), line
    # and the installed copy is this tree's build: it names the commit checked out here
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    from ppe_tech.buildinfo import build_info, describe

    assert build_info()["commit"] is not None, "the installed package has no build record (_build.json)"
    if head.returncode == 0:
        assert build_info()["commit"] == head.stdout.strip()
        assert f"(commit {head.stdout.strip()[:12]}" in describe()


def test_the_wheel_holds_every_package_and_data_file():
    names = set(zipfile.ZipFile(the_wheel()).namelist())
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                assert init.relative_to(ROOT).as_posix() in names, f"{init.relative_to(ROOT)} is not in the wheel"
        for source in (ROOT / package).rglob("*"):
            if source.is_file() and "__pycache__" not in source.parts and source.suffix != ".pyc":
                assert source.relative_to(ROOT).as_posix() in names, f"{source.relative_to(ROOT)} is not in the wheel"
    assert "ppe_tech/_build.json" in names
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)


def test_the_wheel_works_in_a_fresh_environment_away_from_the_source(tmp_path):
    """pip install of the wheel into a new venv; every --help, a journal with its PDF, check list, Russian."""
    venv, home = tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, cwd=tmp_path)
    python, cli = venv / "bin" / "python", [str(venv / "bin" / "ppe-tech")]
    wheelhouse = ROOT / "build" / "wheelhouse"  # the lock's wheels, downloaded by `make dist`
    pins = wheelhouse / f"requirements-cp{sys.version_info.major}{sys.version_info.minor}.txt"
    assert pins.exists(), "run `make dist`: it downloads the locked wheels into build/wheelhouse"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
                    "--require-hashes", "--no-deps", "-r", str(pins)], check=True, env=env, cwd=tmp_path)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(the_wheel())],
                   check=True, env=env, cwd=tmp_path)
    subprocess.run([str(python), "-m", "pip", "check"], check=True, env=env, cwd=tmp_path, capture_output=True)

    paths = command_paths(python, env, tmp_path)
    assert ["journal", "verify"] in paths and ["cameras", "start"] in paths and len(paths) > 30
    for path in paths:
        done = subprocess.run([*cli, *path, "--help"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0 and "Usage:" in done.stdout, f"ppe-tech {' '.join(path)} --help: {done.stderr}"
    version = subprocess.run([*cli, "--version"], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert version.stdout.startswith("ppe-tech 0.") and "(commit " in version.stdout

    journal_round_trip(cli, env, tmp_path, tmp_path / "journal.pdf")
    listed = subprocess.run([*cli, "check", "list", "--json"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    ids = [c["id"] for c in json.loads(listed.stdout)["checks"]]
    assert "antivirus.scan" in ids and "system.disk" in ids
    russian = subprocess.run([*cli, "--lang", "ru", "--help"], env=env, cwd=tmp_path, capture_output=True, text=True,
                             check=True).stdout
    assert "Использование:" in russian and "Команды:" in russian
    by_locale = subprocess.run([*cli, "journal", "verify", "--help"], env=clean_env(home, LANG="ru_RU.UTF-8"),
                               cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "Использование:" in by_locale
    # the catalogue and the fonts came from the wheel, not from anywhere else
    where = subprocess.run([str(python), "-c", "import ppe_tech, templates; print(ppe_tech.__file__); "
                            "print(templates.__file__)"], env=env, cwd=tmp_path, capture_output=True, text=True,
                           check=True).stdout.split()
    assert all(Path(w).is_relative_to(venv) for w in where)
    assert (Path(where[0]).parent / "locale" / "ru" / "LC_MESSAGES" / "ppe_tech.mo").exists()


def in_no_network(*cmd: str) -> list[str]:
    """The command inside a new network namespace: no interface but a loopback that is down."""
    unshare = [host_tool("unshare"), "--net"] if IS_ROOT else ["unshare", "--map-root-user", "--net"]
    return [*unshare, *cmd]


def unpack(bundle: Path, into: Path) -> Path:
    """As a user unpacks it: tar xzf."""
    into.mkdir(parents=True)
    subprocess.run(["tar", "xzf", str(bundle), "-C", str(into)], check=True)
    (top,) = [p for p in into.iterdir() if p.is_dir()]
    return top


def test_the_offline_bundle_installs_with_no_network_and_upgrades_in_place(tmp_path):
    bundle = the_bundle()
    top = unpack(bundle, tmp_path / "unpacked")
    assert (top / "install.sh").stat().st_mode & 0o111
    wheels = {p.name for p in (top / "wheels").iterdir()}
    assert the_wheel().name in wheels and any(n.startswith("pip-") for n in wheels)
    for python in ("311", "312", "313"):
        pins = (top / f"requirements-cp{python}.txt").read_text(encoding="utf-8")
        assert "--hash=sha256:" in pins and "cryptography==" in pins and "ppe-tech==" in pins
    prefix, bin_dir, home = tmp_path / "opt" / "ppe-tech", tmp_path / "bin", tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    links = subprocess.run(in_no_network("ip", "-o", "link"), capture_output=True, text=True, check=True).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"] and "state DOWN" in links, links

    install = in_no_network("bash", str(top / "install.sh"), "--prefix", str(prefix), "--bin-dir", str(bin_dir))
    first = subprocess.run(install, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "installed: ppe-tech" in first.stderr and "system programs" in first.stderr
    cli = [str(bin_dir / "ppe-tech")]
    assert (bin_dir / "ppe-tech").is_symlink() and (prefix / "current").is_symlink()
    work = tmp_path / "work"
    work.mkdir()
    journal_round_trip(in_no_network(*cli), env, work, work / "journal.pdf")
    release = (prefix / "current").resolve()

    again = subprocess.run(install, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "already installed" in again.stderr, again.stderr
    assert (prefix / "current").resolve() == release

    # an upgrade: a bundle with another wheel installs beside the old release and switches to it;
    # the journal made with the old one is still there and intact
    newer = tmp_path / "newer"
    shutil.copytree(top, newer)
    wheel = newer / "wheels" / the_wheel().name
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("ppe_tech/_upgrade_marker.txt", "a later build\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for pins in newer.glob("requirements-cp*.txt"):
        lines = [line.split(" --hash=")[0] + f" --hash=sha256:{digest}" if line.startswith("ppe-tech==") else line
                 for line in pins.read_text(encoding="utf-8").splitlines()]
        pins.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upgrade = subprocess.run(in_no_network("bash", str(newer / "install.sh"), "--prefix", str(prefix), "--bin-dir",
                                           str(bin_dir)), env=env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=600)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (prefix / "current").resolve() != release and release.exists()  # the previous one is kept
    assert list((prefix / "current").resolve().rglob("_upgrade_marker.txt"))
    verdict = subprocess.run([*cli, "journal", "verify", "--json"], env=env, cwd=work, capture_output=True, text=True)
    assert verdict.returncode == 0 and json.loads(verdict.stdout)["entries"] == 1, verdict.stderr


def test_the_installer_refuses_a_python_too_old_and_bad_options(tmp_path):
    top = unpack(the_bundle(), tmp_path / "unpacked")
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9\n")
    old.chmod(0o755)
    env = clean_env(tmp_path)
    done = subprocess.run(["bash", str(top / "install.sh"), "--python", str(old), "--prefix", str(tmp_path / "p")],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 3 and "no wheels for Python 3.9" in done.stderr
    assert not (tmp_path / "p" / "current").exists()
    bad = subprocess.run(["bash", str(top / "install.sh"), "--frobnicate"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option '--frobnicate'" in bad.stderr
    usage = subprocess.run(["bash", str(top / "install.sh"), "--help"], env=env, capture_output=True, text=True)
    assert usage.returncode == 0 and "--prefix DIR" in usage.stderr


OS_RELEASES = [  # (os-release, the family ppe_tech.system_packages puts it in, the command)
    ('ID=debian\nVERSION_ID="12"\n', "debian", "apt-get install ffmpeg clamav clamav-daemon"),
    ('ID=astra\nID_LIKE=debian\n', "debian", "apt-get install ffmpeg clamav clamav-daemon"),
    ('ID=altlinux\n', "altlinux", "apt-get install ffmpeg clamav clamd"),
    ('ID="redos"\nID_LIKE="fedora rhel"\n', "redos", "dnf install ffmpeg clamav clamd"),
]


@pytest.mark.parametrize("os_release, family, expected", OS_RELEASES)
def test_the_installer_names_missing_programs_and_how_to_get_them(tmp_path, os_release, family, expected):
    """The end of install.sh on a station without ffmpeg or clamd, per distribution; the same
    command as ppe-tech's own messages give (ppe_tech.system_packages)."""
    from ppe_tech import system_packages

    assert system_packages.command(["ffmpeg", "ffprobe", "clamd"], family) == expected
    top = unpack(the_bundle(), tmp_path / "unpacked")
    script = (top / "install.sh").read_text(encoding="utf-8")
    tail = script[script.index("# --- the system programs"):]
    fake_release = tmp_path / "os-release"
    fake_release.write_text(os_release)
    probe = tmp_path / "tail.sh"
    probe.write_text("say() { echo \"install.sh: $*\" >&2; }\n"
                     + tail.replace("/etc/os-release", str(fake_release)).replace("[ -x /usr/sbin/clamd ]", "false"))
    empty_path = tmp_path / "nothing-here"
    empty_path.mkdir()
    done = subprocess.run(["/bin/bash", str(probe)], env={"PATH": str(empty_path)}, capture_output=True, text=True)
    assert done.returncode == 0
    assert "missing system programs: ffmpeg ffprobe clamd" in done.stderr and expected in done.stderr


@pytest.mark.parametrize("os_release, family, expected", OS_RELEASES)
def test_a_missing_program_is_named_with_the_command_for_this_system(tmp_path, os_release, family, expected):
    from ppe_tech.system_packages import command, hint

    release = tmp_path / "os-release"
    release.write_text(os_release + 'NAME="Имя системы"\n', encoding="utf-8")
    assert hint("ffprobe", "linux", release) == "Имя системы: " + command(["ffmpeg"], family)
    assert hint("clamd", "linux", release) == "Имя системы: " + expected.replace(" ffmpeg", "")
    assert hint("postgresql", "linux", release).startswith("Имя системы: " + expected.split(" install")[0])


def test_a_missing_program_on_windows_or_an_unknown_system_is_named_with_every_way(tmp_path):
    from ppe_tech.system_packages import hint

    assert "ffmpeg.exe" in hint("ffmpeg", "win32") and "apt-get" not in hint("ffmpeg", "win32")
    assert "postgresql.org" in hint("postgresql", "win32") and "TCPSocket" in hint("clamd", "win32")
    unknown = tmp_path / "os-release"
    unknown.write_text("ID=gentoo\n")
    said = hint("clamd", "linux", unknown)
    assert said == hint("clamd", "linux", tmp_path / "no-such-file")
    assert ("Debian, Astra Linux: apt-get install clamav clamav-daemon; ALT: apt-get install clamav clamd; "
            "RED OS: dnf install clamav clamd") == said
