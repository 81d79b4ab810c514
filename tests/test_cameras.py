"""Cameras against the project's simulated RTSP cameras: probe, health, snapshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import cv2
import pytest

from conftest import host_tool, SIM_CAMERAS

EXPECTED = {"live-1": [], "live-2": [], "black": ["black"], "frozen": ["frozen"], "blurred": ["blurred"],
            "covered": ["covered"], "lowres": ["resolution"], "lowfps": ["fps"], "silent": ["offline"],
            "offline": ["offline"], "secured": []}

# A closed port: refused at once on Linux. ffmpeg.exe (under Wine, and on Windows, whose TCP stack
# retries a refused connect for about 2 s on its own) reaches the 2 s timeout first.
REFUSED = ("connection refused", "no answer (timed out)") if sys.platform == "win32" else ("connection refused",)


@pytest.fixture
def configured(home, simulator):
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\nname = "ГБОУ Школа № 1"\n' + simulator.config(resolution="1280x720", fps=15),
        encoding="utf-8")
    (home / "ppe-tech.toml").chmod(0o600)  # it holds the secured camera's password, as `init` writes it
    return simulator


def test_health_classifies_every_fault(ppe, configured):
    started = time.monotonic()
    r = ppe("cameras", "health", "--json")
    wall = time.monotonic() - started
    assert r.code == 1  # some cameras are unhealthy
    found = {c["id"]: c for c in r.json["cameras"]}
    assert {k: v["problems"] for k, v in found.items()} == EXPECTED
    assert found["live-1"]["healthy"] is True and found["black"]["healthy"] is False
    assert found["lowres"]["width"] == 640 and found["lowfps"]["fps"] == 5
    assert wall < 15  # all at once, not one after the other


def test_healthy_cameras_exit_0(ppe, configured):
    r = ppe("cameras", "health", "live-1", "live-2", "secured")
    assert r.code == 0, r.out + r.err
    assert re.search(r"live-1\.+ok", r.out)


def test_probe_reports_stream_and_masks_credentials(ppe, configured):
    r = ppe("cameras", "probe", "live-1", "lowres", "secured", "--json")
    assert r.code == 0, r.err
    found = {c["camera"]: c for c in r.json["cameras"]}
    assert (found["live-1"]["codec"], found["live-1"]["width"], found["live-1"]["height"]) == ("h264", 1280, 720)
    assert found["live-1"]["fps"] == 15
    assert found["lowres"]["width"] == 640
    assert "s3cr3t-pass" not in r.out and "admin:***@" in found["secured"]["url"]
    listed = ppe("cameras", "list")
    assert "s3cr3t-pass" not in listed.out and "admin:***@" in listed.out


def test_probe_hard_timeout_on_a_silent_camera(ppe, configured):
    started = time.monotonic()
    r = ppe("cameras", "probe", "silent", "offline", "--timeout", "2s", "--json")
    elapsed = time.monotonic() - started
    assert r.code == 1
    assert elapsed < 2 + 1.5  # the deadline holds for a port that accepts and never answers
    found = {c["camera"]: c for c in r.json["cameras"]}
    assert not found["silent"]["reachable"] and not found["offline"]["reachable"]
    assert found["offline"]["error"] in REFUSED


def test_wrong_password_is_unauthorized(ppe, home, simulator):
    url = simulator.url("secured").replace("s3cr3t-pass", "wrong-pass")
    (home / "ppe-tech.toml").write_text(f'[[cameras]]\nid = "secured"\nlocation = "hq"\nurl = "{url}"\n',
                                        encoding="utf-8")
    r = ppe("cameras", "health", "--json")
    assert r.code == 1
    camera = r.json["cameras"][0]
    assert camera["problems"] == ["unauthorized"] and "wrong-pass" not in r.out


def test_snapshot_jpegs_and_contact_sheet(ppe, configured, home):
    r = ppe("cameras", "snapshot", "live-1", "black", "offline", "--out", home / "snaps", "--pdf",
            home / "snaps.pdf", "--json")
    assert r.code == 1  # black and offline are not healthy
    shots = {c["id"]: c["snapshot"] for c in r.json["cameras"]}
    assert shots["offline"] is None
    image = cv2.imread(shots["live-1"])
    assert image.shape == (720, 1280, 3) and image.mean() > 50
    assert cv2.imread(shots["black"]).mean() < 10
    text = subprocess.run([host_tool("pdftotext"), str(home / "snaps.pdf"), "-"], capture_output=True, text=True).stdout
    for needle in ("Снимки с камер видеонаблюдения", "live-1", "исправна", "чёрный экран", "нет связи с камерой",
                   "нет изображения", "Лист 1 из 1"):
        assert needle in text, needle
    assert shutil.which(host_tool("pdftoppm"))


def test_unknown_camera_and_bad_config(ppe, configured, home):
    r = ppe("cameras", "health", "nope")
    assert r.code == 2 and len(r.err_lines()) == 1 and "unknown camera 'nope'" in r.err
    (home / "ppe-tech.toml").write_text('[[cameras]]\nid = "../../etc"\nlocation = "hq"\nurl = "rtsp://x/y"\n'
                                        '[[cameras]]\nid = "b"\nlocation = "hq"\nurl = "not a url"\n',
                                        encoding="utf-8")
    r = ppe("cameras", "probe")
    assert r.code == 2
    assert "cameras[1].id" in r.err and "cameras[2].url" in r.err
    (home / "ppe-tech.toml").write_text("", encoding="utf-8")
    r = ppe("cameras", "health")
    assert r.code == 2 and "no cameras configured" in r.err


def test_simulated_drop_refuses_then_returns(simulator, sim_cache):
    from video.health import probe

    simulator.fault("live-2", "drop", 3)
    down = probe("live-2", simulator.url("live-2"), timeout_s=2)
    assert not down.reachable and down.error in REFUSED
    time.sleep(3.5)
    up = probe("live-2", simulator.url("live-2"), timeout_s=3)
    assert up.reachable and up.width == 1280


def test_every_simulated_camera_is_in_the_table():
    assert {c["name"] for c in SIM_CAMERAS} == set(EXPECTED)
