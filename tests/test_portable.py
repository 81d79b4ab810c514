"""The portable Windows build (dist/ppe-tech-VERSION-portable-win-amd64.zip) unzipped and run
as a station runs it: `ppe-tech.cmd`, its own Python and ffmpeg, nothing else on PATH.

Windows only: `make test-windows` builds the zip (scripts/bundle.py, from the Windows cache)
before the suite, and runs this under Wine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import HEAD, PASSPHRASE, PPE_SECTION, ROOT, SPECIALIST, UNDER_WINE, Simulator

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="the portable build is for Windows "
                                "(make test-windows runs it under Wine)")


def _zip() -> Path:
    found = sorted((ROOT / "dist").glob("ppe-tech-*-portable-win-amd64.zip"))
    assert len(found) == 1, "expected one portable zip in dist/: scripts/windows/test.sh builds it (make dist)"
    return found[0]


@pytest.fixture(scope="module")
def portable(tmp_path_factory):
    folder = tmp_path_factory.mktemp("portable")
    with zipfile.ZipFile(_zip()) as z:
        z.extractall(folder)
    return folder


def _env(home: Path) -> dict[str, str]:
    """Only Windows' own folders on PATH: python.exe and ffmpeg.exe must come from the zip."""
    drop = {"PATH", "WINEPATH", "PYTHONPATH", "PYTHONHOME", "PYTHONUTF8", "PYTHONSAFEPATH"}
    env = {k: v for k, v in os.environ.items() if k.upper() not in drop and not k.startswith("PPE_")}
    windir = os.environ.get("SystemRoot", r"C:\windows")
    env.update(PATH=f"{windir}\\system32;{windir}", PPE_TECH_DATA=str(home / "data"),
               PPE_TECH_PASSPHRASE=PASSPHRASE)
    return env


def _run(portable: Path, home: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(portable / "ppe-tech.cmd"), *map(str, args)], cwd=home, env=_env(home),
                          capture_output=True, timeout=180)


def test_the_zip_holds_the_launcher_python_wheels_and_ffmpeg():
    with zipfile.ZipFile(_zip()) as z:
        names = set(z.namelist())
        pth = z.read("python/python311._pth").decode()
    assert {"ppe-tech.cmd", "VERSION", "bin/ffmpeg.exe", "bin/ffprobe.exe", "python/python.exe"} <= names
    assert "Lib\\site-packages" in pth and "import site" in pth.splitlines()
    packages = {n.split("/")[3] for n in names if n.startswith("python/Lib/site-packages/") and n.count("/") > 3}
    assert {"ppe_tech", "checks", "video", "journal", "templates", "cryptography", "numpy", "cv2", "tzdata"} <= packages
    assert any(p.startswith("numpy-2.") for p in packages)  # the lock's numpy, not the one Wine needs


def test_journal_round_trip_from_the_unzipped_build(portable, tmp_path):
    home = tmp_path
    (home / "ppe-tech.toml").write_text(PPE_SECTION, encoding="utf-8")  # the exam point the journal belongs to
    ids = {}
    for role, (name, position) in (("specialist", SPECIALIST), ("head", HEAD)):
        r = _run(portable, home, "keys", "create", "--name", name, "--position", position, "--json")
        assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
        ids[role] = json.loads(r.stdout)["key_id"]
    r = _run(portable, home, "journal", "add", "--room", "0101", "--action", "Проверка работоспособности",
             "--key", ids["specialist"])
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    r = _run(portable, home, "journal", "confirm", "--key", ids["head"], "--yes", "--json")
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    r = _run(portable, home, "journal", "list", "--json")
    entries = json.loads(r.stdout)["entries"]
    assert [e["action"] for e in entries] == ["Проверка работоспособности"]
    assert entries[0]["actor"]["name"] == SPECIALIST[0] and entries[0]["confirmed_by"]["name"] == HEAD[0]
    r = _run(portable, home, "journal", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    r = _run(portable, home, "journal", "print", "--out", home / "journal.pdf")
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    assert (home / "journal.pdf").read_bytes().startswith(b"%PDF")


def _numpy_for_wine(portable: Path) -> None:
    """Under Wine only: numpy 2's .pyd import C99 complex functions that Wine stubs (`import numpy`
    aborts; DESIGN.md, "numpy under Wine"), so this copy gets the numpy 1.26 and OpenCV 4.10 of the
    Wine environment in place of the lock's numpy 2 and OpenCV 5. Everything else is the zip's."""
    site = portable / "python" / "Lib" / "site-packages"
    wine_site = Path(sys.prefix) / "Lib" / "site-packages"
    for pattern in ("numpy", "numpy.libs", "numpy-*.dist-info", "cv2", "opencv_python_headless-*.dist-info"):
        for path in site.glob(pattern):
            shutil.rmtree(path)
        for path in wine_site.glob(pattern):
            shutil.copytree(path, site / path.name)


def test_cameras_probe_from_the_unzipped_build(portable, tmp_path, sim_cache):
    if UNDER_WINE:
        _numpy_for_wine(portable)
    sim = Simulator([{"name": "cam-1"}], sim_cache)
    try:
        (tmp_path / "ppe-tech.toml").write_text('[ppe]\ncode = "0123"\n' + sim.config(), encoding="utf-8")
        r = _run(portable, tmp_path, "cameras", "probe", "--json")
    finally:
        sim.stop()
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")
    found = json.loads(r.stdout)["cameras"][0]
    assert found["reachable"] and (found["codec"], found["width"], found["height"]) == ("h264", 1280, 720)
