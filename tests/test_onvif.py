"""Camera control over ONVIF against the simulator's ONVIF devices (HTTP on 127.0.0.1).

Discovery (multicast) runs only inside a network namespace each test makes itself
(`unshare -n`, lo up); everything else talks to 127.0.0.1. The interoperability test
runs an independent client, the npm package `onvif`, against the same devices.
"""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import IS_ROOT, host_tool, ROOT, Simulator, subprocess_env

PASSWORD = "s3cr3t-onvif"
SMALL = {"width": 320, "height": 240, "user": "admin", "password": PASSWORD}
CAMERAS = [
    {"name": "plain", **SMALL},
    {"name": "skewed", **SMALL, "clock_skew": -3600.0},
    {"name": "digest", **SMALL, "onvif_faults": ["digest_only", "wrong_host"]},
    {"name": "slow", **SMALL, "onvif_faults": ["slow"], "slow_seconds": 30.0},
    {"name": "battery", **SMALL, "onvif_faults": ["reset_clock"]},
    {"name": "utf8", **SMALL, "onvif_faults": ["bad_utf8"]},
    {"name": "localutc", **SMALL, "clock_skew": 3 * 3600.0},  # keeps Moscow time in its UTC field
]


@pytest.fixture(scope="module")
def sim(sim_cache):
    simulator = Simulator(CAMERAS, sim_cache)
    yield simulator
    simulator.stop()


def hostport(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0].rpartition("@")[2]


def write_config(home: Path, sim: Simulator, names: list[str], *, password: str = PASSWORD, extra: str = "") -> Path:
    blocks = "".join(
        f'[[cameras]]\nid = "{n}"\nlocation = "corridor"\nroom = "комната {n}"\n'
        f'url = "rtsp://admin:{password}@{hostport(sim.url(n))}/stream1"\n'
        f'onvif = "http://{hostport(sim.onvif(n))}/onvif/device_service"\n' for n in names)
    path = home / "ppe-tech.toml"
    path.write_text(f'[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n{extra}\n{blocks}',
                    encoding="utf-8")
    return path


def no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text


def test_clock_reads_without_credentials_sets_on_a_boundary_and_journals(ppe, people, home, sim):
    write_config(home, sim, ["plain", "skewed", "digest"], password="not-the-password")
    r = ppe("cameras", "clock", "--json")
    assert r.code == 1, r.err  # skewed is an hour behind: reading needs no credentials
    found = {c["id"]: c for c in r.json["cameras"]}
    assert abs(found["skewed"]["offset_s"] + 3600) < 1.5 and found["skewed"]["ok"] is False
    assert abs(found["plain"]["offset_s"]) < 1.5 and found["plain"]["ok"] is True
    assert found["digest"]["error"] is None and found["skewed"]["set"] is False
    check = ppe("check", "run", "--only", "cameras.clock", "--format", "json")
    assert check.code == 1 and "skewed" in check.json["checks"][0]["message"]
    status = ppe("exam", "status", "--json")  # the day's screen names the camera whose clock is off
    assert status.code == 1 and status.json["camera_clocks"]["off"] == ["skewed"]
    assert any("skewed" in p and "cameras clock --set" in p for p in status.json["problems"])

    # a wrong password: the set is refused and named in that camera's error
    r = ppe("cameras", "clock", "skewed", "--set", "--json")
    assert r.code == 1
    (entry,) = r.json["cameras"]
    assert entry["set"] is False and "refused" in entry["error"]

    write_config(home, sim, ["plain", "skewed", "digest"])
    r = ppe("cameras", "clock", "--set", "--key", people["specialist"], "--json")
    assert r.code == 0, r.out + r.err
    found = {c["id"]: c for c in r.json["cameras"]}
    assert found["skewed"]["set"] is True and abs(found["skewed"]["offset_s"]) <= 0.5
    assert abs(found["skewed"]["offset_before_s"] + 3600) < 1.5
    assert found["skewed"]["timezone"] == "MSK-3"  # the ППЭ's zone, in the POSIX form ONVIF wants
    assert found["digest"]["set"] is True and abs(found["digest"]["offset_s"]) <= 0.5  # its zone was GMT0
    # the token after the set is signed against the new clock: an authenticated call works at once
    again = ppe("cameras", "clock", "--json")
    assert again.code == 0 and all(c["ok"] for c in again.json["cameras"])
    assert ppe("cameras", "osd", "skewed", "--json").code in (0, 1)  # an authenticated call: no refusal
    assert ppe("cameras", "osd", "skewed", "--json").json["cameras"][0]["error"] is None
    entries = [e for e in ppe("journal", "list", "--json").json["entries"] if "ONVIF" in e["action"]]
    assert len(entries) == 1, entries  # one entry for the set, however many cameras
    action = entries[0]["action"]
    assert action.startswith("Установка времени камер (ONVIF)")
    assert re.search(r"skewed -360\d,\d\d с → [+-]0,[0-4]\d с", action) or \
        re.search(r"skewed -3599,\d\d с → [+-]0,[0-4]\d с", action), action
    assert entries[0]["actor"]["key_id"] == people["specialist"]
    assert ppe("check", "run", "--only", "cameras.clock").code == 0
    status = ppe("exam", "status", "--json")
    assert status.json["camera_clocks"]["off"] == [] and status.json["camera_clocks"]["by"] == "check run"
    assert not any("clock" in p for p in status.json["problems"])


def test_digest_only_camera_and_its_wrong_stream_host_are_handled(ppe, home, sim, tmp_path):
    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    r = ppe("cameras", "discover", "--address", hostport(sim.onvif("digest")), "--user", "admin",
            "--password-file", tmp_path / "pw", "--json")
    assert r.code == 0, r.err
    (device,) = r.json["devices"]
    assert device["error"] is None and device["serial"] == "SIM-digest" and device["mac"].startswith("02:")
    assert device["stream_uri"] == f"rtsp://{hostport(sim.url('digest'))}/stream1"  # not 192.168.0.64
    notes = " ".join(device["notes"])
    assert "Digest" in notes and "192.168.0.64" in notes and "doubled the port" in notes
    assert hostport(device["snapshot_uri"]) == hostport(sim.onvif("digest"))
    # the corrected address really streams
    (home / "ppe-tech.toml").write_text(
        f'[[cameras]]\nid = "d"\nlocation = "corridor"\n'
        f'url = "rtsp://admin:{PASSWORD}@{hostport(device["stream_uri"])}/stream1"\n', encoding="utf-8")
    probe = ppe("cameras", "probe", "--json")
    assert probe.code == 0, probe.err
    no_secret(r.out, r.err, probe.out)


def test_a_slow_camera_holds_up_no_other(ppe, home, sim, tmp_path):
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    write_config(home, sim, ["plain", "slow", "utf8", "digest"], extra='[onvif]\ntimeout = "2s"\n')
    started = time.monotonic()
    r = ppe("cameras", "clock", "--json")
    wall = time.monotonic() - started
    assert r.code == 1
    found = {c["id"]: c for c in r.json["cameras"]}
    assert "no answer within 2 s" in found["slow"]["error"] and found["slow"]["offset_s"] is None
    assert all(found[n]["error"] is None for n in ("plain", "utf8", "digest"))
    assert wall < 3.5, wall  # one timeout, not one per camera
    started = time.monotonic()
    r = ppe("cameras", "discover", *[a for n in ("plain", "slow", "utf8") for a in ("--address", hostport(sim.onvif(n)))],
            "--user", "admin", "--password-file", tmp_path / "pw", "--json")
    wall = time.monotonic() - started
    found = {d["serial"] or d["address"]: d for d in r.json["devices"]}
    assert wall < 3.5, wall
    assert "SIM-plain" in found and "SIM-utf8" in found
    assert "\ufffd" in found["SIM-utf8"]["manufacturer"] and "invalid UTF-8" in " ".join(found["SIM-utf8"]["notes"])


def test_reboot_waits_for_the_camera_and_reports_its_1970_clock(ppe, people, home, sim):
    write_config(home, sim, ["battery"])
    started = time.monotonic()
    r = ppe("cameras", "reboot", "battery", "--json")
    assert time.monotonic() - started < 15
    assert r.code == 1, r.out + r.err
    (result,) = r.json["cameras"]
    assert result["rebooted"] and result["back"] and result["clock_ok"] is False
    assert "reset by the reboot" in result["error"] and "1970" in result["error"]
    entries = ppe("journal", "list", "--json").json["entries"]
    assert [e["action"] for e in entries] == ["Перезагрузка средства видеонаблюдения (ONVIF): battery"]
    r = ppe("cameras", "clock", "battery", "--set", "--json")
    assert r.code == 0, r.out + r.err
    assert abs(r.json["cameras"][0]["offset_s"]) <= 0.5 and r.json["cameras"][0]["offset_before_s"] < -1e9


def test_discover_write_keeps_comments_is_idempotent_and_hides_passwords(ppe, home, sim, tmp_path):
    config = home / "ppe-tech.toml"
    original = ('# ППЭ 0123, настроено вручную\n[ppe]\nregion = "77"   # Москва\ncode = "0123"\n\n'
                '[[cameras]]  # the corridor camera\nid = "corr-1"\nlocation = "corridor"\n'
                f'url = "rtsp://admin:{PASSWORD}@{hostport(sim.url("plain"))}/stream1"\n')
    config.write_text(original, encoding="utf-8")
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    args = ["cameras", "discover", "--address", hostport(sim.onvif("plain")), "--address",
            hostport(sim.onvif("skewed")), "--user", "admin", "--password-file", tmp_path / "pw", "--write", "--json"]
    r = ppe(*args)
    assert r.code == 0, r.err
    found = {d["serial"]: d for d in r.json["devices"]}
    assert found["SIM-plain"]["camera"] == "corr-1" and found["SIM-skewed"]["camera"] is None
    assert len(r.json["added"]) == 1 and found["SIM-skewed"]["added_as"] == r.json["added"][0]
    assert found["SIM-plain"]["added_as"] is None
    text = config.read_text(encoding="utf-8")
    assert text.startswith(original)  # every comment and line as it was
    assert "found by `ppe-tech cameras discover`" in text
    if sys.platform != "win32":  # Windows: an ACL instead (tests/test_windows.py), modes mean nothing there
        assert config.stat().st_mode & 0o777 == 0o600
    again = ppe(*args)
    assert again.code == 0 and again.json["added"] == []
    assert {d["camera"] for d in again.json["devices"]} == {"corr-1", r.json["added"][0]}
    assert config.read_text(encoding="utf-8") == text
    listed = ppe("cameras", "list", "--json")
    new = next(c for c in listed.json["cameras"] if c["id"] == r.json["added"][0])
    assert new["onvif"] == f"http://admin:***@{hostport(sim.onvif('skewed'))}/onvif/device_service"
    assert new["url"].startswith("rtsp://admin:***@")
    no_secret(r.out, r.err, again.out, listed.out, ppe("cameras", "list").out)
    assert ppe("cameras", "clock", r.json["added"][0]).code in (0, 1)  # the written config loads
    # then the specialist names the new camera: id, location and room, the file's comments kept
    named = ppe("cameras", "edit", r.json["added"][0], "--id", "aud-0101", "--location", "auditorium",
                "--room", "0101", "--json")
    assert named.code == 0, named.err
    assert named.json["changed"] == {"id": "aud-0101", "location": "auditorium", "room": "0101"}
    edited = config.read_text(encoding="utf-8")
    assert edited.startswith(original) and "found by `ppe-tech cameras discover`" in edited
    if sys.platform != "win32":  # as above: an ACL on Windows
        assert config.stat().st_mode & 0o777 == 0o600
    cameras = {c["id"]: c for c in ppe("cameras", "list", "--json").json["cameras"]}
    assert cameras["aud-0101"]["room"] == "0101" and cameras["aud-0101"]["location"] == "auditorium"
    assert cameras["aud-0101"]["onvif"] == new["onvif"]
    for bad, needle in ((["nope", "--room", "1"], "unknown camera 'nope'"), (["aud-0101"], "nothing to change"),
                        (["aud-0101", "--location", "roof"], "roof"), (["aud-0101", "--id", "Bad Id"], "id"),
                        (["aud-0101", "--id", "corr-1"], "corr-1"), (["aud-0101", "--room", "01\u200b01"], "room")):
        refused = ppe("cameras", "edit", *bad)
        assert refused.code == 2 and needle in refused.err and "Traceback" not in refused.err, (bad, refused.err)
    assert config.read_text(encoding="utf-8") == edited  # a refused edit changes nothing
    # a camera with recordings keeps its id: archive and gaps find them by it
    folder = home / "data" / "recordings" / "aud-0101"
    folder.mkdir(parents=True)
    (folder / "aud-0101_20260601_080000.ts").write_bytes(b"\x47" * 188)
    kept = ppe("cameras", "edit", "aud-0101", "--id", "aud-0102")
    assert kept.code == 2 and "recordings" in kept.err


@pytest.mark.parametrize("args, needle", [
    (["--address", "127.0.0.1:99999"], "HOST[:PORT]"),
    (["--address", "http://"], "not an ONVIF address"),
    (["--interface", "not-an-address"], "IPv4"),
    (["--password-file", "pw"], "--user"),
    (["--timeout", "0s"], "above zero"),
])
def test_discover_bad_input_is_one_line_exit_2(ppe, home, args, needle):
    (home / "pw").write_text("x", encoding="utf-8")
    r = ppe("cameras", "discover", *args)
    assert r.code == 2, (r.code, r.err)
    assert len(r.err_lines()) == 1 and needle in r.err and "Traceback" not in r.err


def test_clock_bad_input_is_one_line_exit_2(ppe, home, sim):
    path = write_config(home, sim, ["plain"])
    assert ppe("cameras", "clock", "nope").code == 2
    r = ppe("cameras", "clock", "--max-offset", "soon")
    assert r.code == 2 and len(r.err_lines()) == 1
    path.write_text(path.read_text(encoding="utf-8") + '[[cameras]]\nid = "x"\nlocation = "hq"\n'
                    'url = "rtsp://127.0.0.1:1/s"\n', encoding="utf-8")
    r = ppe("cameras", "clock", "x")
    assert r.code == 2 and "has no onvif address" in r.err
    path.write_text(path.read_text(encoding="utf-8") + 'onvif = "ftp://admin:pw@127.0.0.1/x"\n', encoding="utf-8")
    r = ppe("cameras", "clock")
    assert r.code == 2 and "cameras[2].onvif" in r.err and "pw" not in r.err


# -- inside a network namespace of the test's own ---------------------------------------------

def in_netns(tmp_path: Path, specs: list[dict], sim_cache: Path, *commands: str) -> dict:
    """Run the simulator and `commands` in a new network namespace where only lo exists."""
    spec = tmp_path / "netns-spec.json"
    spec.write_text(json.dumps(specs), encoding="utf-8")
    unshare = [host_tool("unshare"), "--net"] if IS_ROOT else [host_tool("unshare"), "--map-root-user", "--net"]
    driver = ROOT / "tests" / "interop" / "netns_discovery.py"
    proc = subprocess.run([*unshare, sys.executable, str(driver), str(spec), str(sim_cache), *commands],
                          capture_output=True, text=True, timeout=180, env=subprocess_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_discovery_finds_every_camera_inside_a_namespace(tmp_path, sim_cache):
    specs = [{"name": f"ns-{i}", **SMALL} for i in range(1, 7)]
    specs[1]["clock_skew"] = 120.0
    specs[2]["onvif_faults"] = ["digest_only"]
    ppe_tech = shutil.which("ppe-tech", path=str(Path(sys.executable).parent))
    config = tmp_path / "found.toml"
    (tmp_path / "pw").write_text(PASSWORD, encoding="utf-8")
    result = in_netns(tmp_path, specs, sim_cache,
                      f"{ppe_tech} --config {config} --data-dir {tmp_path / 'data'} cameras discover --timeout 1s "
                      f"--user admin --password-file {tmp_path / 'pw'} --write --json",
                      f"{ppe_tech} --config {config} --data-dir {tmp_path / 'data'} cameras discover "
                      f"--interface 127.0.0.1 --timeout 1s --json")
    first, second = result["runs"]
    assert first["code"] == 0, first["err"]
    devices = json.loads(first["out"])["devices"]
    assert sorted(d["name"] for d in devices) == [s["name"] for s in specs]
    assert all(d["error"] is None and d["stream_uri"].startswith("rtsp://127.0.0.1:") for d in devices)
    by_name = {d["name"]: d for d in devices}
    assert abs(by_name["ns-2"]["clock_offset_s"] - 120) < 1.5
    assert sorted(json.loads(first["out"])["added"]) == [s["name"] for s in specs]
    assert first["seconds"] < 6
    again = json.loads(second["out"])
    assert second["code"] == 0 and sorted(d["camera"] for d in again["devices"]) == [s["name"] for s in specs]
    no_secret(first["out"], first["err"], second["out"])


def test_an_independent_onvif_client_reads_the_simulated_cameras(tmp_path, sim_cache):
    """The npm package `onvif` (agsh/onvif) discovers and reads our devices: the simulator is a
    faithful device, not one only our client understands."""
    subprocess.run([host_tool("bash"), str(ROOT / "scripts" / "npm_onvif.sh")], check=True, timeout=300)
    modules = ROOT / "build" / "npm-onvif" / "node_modules"
    specs = [{"name": "agsh-1", **SMALL}, {"name": "agsh-2", **SMALL, "clock_skew": -30.0}]
    script = ROOT / "tests" / "interop" / "onvif_client.js"
    node = shutil.which("node")
    assert node, "node is needed for the interoperability test"
    os.environ["NODE_PATH"] = str(modules)
    try:
        result = in_netns(tmp_path, specs, sim_cache, f"{node} {script} admin {PASSWORD}")
    finally:
        del os.environ["NODE_PATH"]
    (run,) = result["runs"]
    out = json.loads(run["out"])
    assert out["errors"] == [], out
    by_port = {str(d["port"]): d for d in out["devices"]}
    for spec in specs:
        cam = result["cameras"][spec["name"]]
        device = by_port[hostport(cam["onvif"]).split(":")[1]]
        assert device["info"]["manufacturer"] == "ppe-tech" and device["info"]["serialNumber"] == f"SIM-{spec['name']}"
        assert device["stream"] == f"rtsp://127.0.0.1:{cam['port']}/stream1"
    skewed = by_port[hostport(result["cameras"]["agsh-2"]["onvif"]).split(":")[1]]
    from datetime import datetime, timezone

    shown = datetime.fromisoformat(skewed["time"].replace("Z", "+00:00"))
    assert abs((shown - datetime.now(timezone.utc)).total_seconds() + 30) < 10


def test_a_camera_keeping_local_time_as_utc_is_named_as_such(ppe, home, sim):
    from video.onvif.clock import posix_offset

    assert posix_offset("MSK-3") == 10800 and posix_offset("<+05>-5") == 18000 and posix_offset("EST5EDT") == -18000
    assert posix_offset("") is None
    write_config(home, sim, ["plain", "localutc"])
    r = ppe("cameras", "clock", "--json")
    found = {c["id"]: c for c in r.json["cameras"]}
    assert r.code == 1 and found["localutc"]["ok"] is False
    assert any("keeps local time as UTC" in n for n in found["localutc"]["notes"]), found["localutc"]
    assert not any("keeps local time" in n for n in found["plain"]["notes"])


def _get(url: str, auth: str | None = None):
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener()
    if auth == "digest":
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, url, "admin", PASSWORD)
        opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(manager))
    request = urllib.request.Request(url)
    if auth == "basic":
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode())
    try:
        with opener.open(request, timeout=20) as answer:
            return answer.status, answer.headers.get("Content-Type"), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), b""


def test_the_snapshot_uri_serves_the_cameras_picture_behind_its_credentials(ppe, home, sim, tmp_path):
    import io

    from PIL import Image

    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    r = ppe("cameras", "discover", "--address", hostport(sim.onvif("plain")), "--address",
            hostport(sim.onvif("digest")), "--user", "admin", "--password-file", tmp_path / "pw", "--json")
    assert r.code == 0, r.err
    uris = {d["serial"]: d["snapshot_uri"] for d in r.json["devices"]}
    plain = uris["SIM-plain"]
    assert _get(plain)[0] == 401  # a camera's snapshot is not for anyone on the network
    status, kind, body = _get(plain, "basic")
    assert status == 200 and kind == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (320, 240)
    # the digest-only camera refuses Basic and serves under Digest (its reported URI doubles the
    # port, as such cameras do: discover corrects it)
    digest = uris["SIM-digest"]
    assert hostport(digest) == hostport(sim.onvif("digest"))
    assert _get(digest, "basic")[0] == 401
    status, kind, body = _get(digest, "digest")
    assert status == 200 and Image.open(io.BytesIO(body)).format == "JPEG"
