"""Check profiles (station, kege, a region's file), the КЕГЭ checks, network isolation, the
station's minimums, monitors, file associations, and the protocol's Russian text.

Network rule: every probe here points at 127.0.0.1 (a listener we open, or a port we just
closed); the default public probes are never contacted in a test.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from checks import associations, display, minimums, network
from checks import profile as profiles
from checks.builtin import BY_ID, Context
from checks.model import Commands, Status
from conftest import host_tool, subprocess_env, toml_str  # noqa: F401 (the same helpers as the other suites)
from ppe_tech.config import Minimums, load_config

TINY = 'title = "Станция для теста"\nchecks = ["system.resources", "network.isolated"]\n' \
       'required = ["system.resources", "network.isolated"]\n'


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(home: Path, text: str = "", probes: list[str] | None = None) -> Path:
    probes = probes if probes is not None else [f"127.0.0.1:{closed_port()}"]
    path = home / "ppe-tech.toml"
    path.write_text('[ppe]\nregion = "77"\ncode = "0123"\nname = "ГБОУ Школа № 1"\ntimezone = "Europe/Moscow"\n'
                    '[checks]\ninternet_probes = [' + ", ".join(f'"{p}"' for p in probes) + ']\n' + text,
                    encoding="utf-8")
    return path


def test_builtin_profiles_are_data_and_name_only_known_checks():
    for name in profiles.BUILTIN:
        prof = profiles.load(name)
        assert prof.name == name and prof.title and prof.checks
        assert set(prof.required) <= set(prof.checks) <= set(BY_ID)
        assert prof.source.name == f"{name}.toml"
    station, kege = profiles.load("station"), profiles.load("kege")
    assert {"antivirus.scan", "integrity.baseline", "printers", "cameras"} <= set(station.checks)
    assert {"software.list", "files.open", "network.isolated", "software.forbidden", "display.screens"} <= set(kege.checks)
    assert kege.file_types == ["ods", "odt", "txt"] and kege.minimums.single_monitor is True
    listed = profiles.software_list_path(kege, "")
    assert listed.name == "kege-software.toml" and listed.is_file()
    text = listed.read_text(encoding="utf-8")
    assert "публикует регион" in text  # the example says where real lists come from
    for language in ("Python", "C++", "C#", "Pascal", "Java", "алгоритмическом языке"):
        assert language in text, language
    from checks import software_list
    programs = software_list.load(listed).programs
    assert {"LibreOffice (Writer, Calc)", "КуМир", "PascalABC.NET"} <= {p.name for p in programs}
    assert all(p.linux or p.windows for p in programs)


@pytest.mark.parametrize("name", ["station", "kege"])
def test_each_profile_on_this_machine(ppe, home, name):
    write_config(home)
    r = ppe("check", "run", "--profile", name, "--json", "--no-journal")
    assert r.code in (0, 1), r.err
    doc = r.json
    prof = profiles.load(name)
    assert [c["id"] for c in doc["checks"]] == prof.checks
    assert doc["profile"] == {"name": name, "title": prof.title} and doc["full"] is True
    by_id = {c["id"]: c for c in doc["checks"]}
    assert all(c["status"] in ("pass", "warn", "fail", "skip", "error") and c["message"] for c in doc["checks"])
    minimum = by_id["system.minimums"]
    assert any("operating system:" in d for d in minimum["details"]) and any("processor:" in d for d in minimum["details"])
    if sys.platform == "win32":  # Windows 10 and 11 are among the systems the profiles accept
        assert "operating system" not in minimum["message"], minimum
    else:  # this machine (Debian) is not: named, and so not ready
        assert minimum["status"] == "fail" and "operating system" in minimum["message"]
    assert doc["ready"] is False and r.code == 1
    if name == "kege":
        listed = by_id["software.list"]
        assert listed["status"] == "fail" and "КуМир" in listed["message"]  # not installed here
        if sys.platform == "win32":  # found by its uninstall entry: this Python (embeddable) has none
            assert "Python" in listed["data"]["missing"] or any("Python 3" in d for d in listed["details"]), listed
        else:
            assert any(d.startswith("среда программирования на языке Python: Python 3.") for d in listed["details"])
        assert by_id["network.isolated"]["status"] == "pass"  # the probe is a closed local port
        assert by_id["software.forbidden"]["status"] == "pass"
        screens = by_id["display.screens"]
        if sys.platform == "win32":  # Windows counts the monitors itself (Wine: one small virtual screen)
            assert screens["status"] in ("pass", "fail") and screens["data"]["monitors"], screens
        else:  # no graphical session in the tests: the monitors cannot be counted
            assert screens["status"] == "skip" and screens["message"]


def test_a_regional_list_with_one_program_missing_is_caught(ppe, home):
    # two programs this system has, one it lacks, and one listed only for the other system
    if sys.platform == "win32":
        this, python, second = "windows", f"command = [{toml_str(sys.executable)}, \"--version\"]", \
            f'name = "Python (файл)"\nkind = "файл"\nwindows = {{ path = {toml_str(sys.executable)} }}'
        other = ("Только Linux", 'linux = { command = ["python3", "--version"] }')
    else:
        this, python, second = "linux", 'command = ["python3", "--version"]', \
            'name = "GCC"\nkind = "C++"\nlinux = { command = ["g++", "--version"] }'
        other = ("Только Windows", 'windows = { registry = "Something" }')
    (home / "region").mkdir()
    (home / "region" / "list.toml").write_text(
        'region = "77"\npublished = "тест"\n'
        '[[programs]]\nname = "Python"\nkind = "среда программирования на языке Python"\nversion = ">=3.9"\n'
        f'{this} = {{ {python} }}\n'
        f'[[programs]]\n{second}\n'
        '[[programs]]\nname = "Редактор Х"\nkind = "текстовый редактор"\n'
        f'{this} = {{ command = ["no-such-kege-editor-x", "--version"] }}\n'
        f'[[programs]]\nname = "{other[0]}"\n{other[1]}\n', encoding="utf-8")
    (home / "region" / "kege-77.toml").write_text(
        'title = "Станция КЕГЭ региона 77"\nchecks = ["software.list"]\nrequired = ["software.list"]\n'
        'software_list = "list.toml"\n', encoding="utf-8")
    write_config(home, 'profile = "region/kege-77.toml"\n')  # relative to the config's folder
    r = ppe("check", "run", "--json", "--no-journal")
    assert r.code == 1, r.err
    (listed,) = r.json["checks"]
    assert listed["status"] == "fail" and listed["data"]["missing"] == ["Редактор Х"]
    assert listed["data"]["found"] == 2 and r.json["profile"]["name"] == "kege-77"
    assert any(f"not for this system: {other[0]}" in d for d in listed["details"])
    # the same list with the missing one removed passes, and the full run is ready
    text = (home / "region" / "list.toml").read_text(encoding="utf-8")
    (home / "region" / "list.toml").write_text(text.split('[[programs]]\nname = "Редактор Х"')[0], encoding="utf-8")
    r = ppe("check", "run", "--json", "--no-journal")
    assert r.code == 0 and r.json["ready"] is True, r.out


def test_a_region_profile_with_mistakes_names_file_and_line(ppe, home):
    (home / "bad.toml").write_text('title = "x"\nchecks = ["system.resources", "system.resorces"]\n'
                                   'required = ["printers"]\nfile_types = ["pdf"]\n', encoding="utf-8")
    write_config(home)
    r = ppe("check", "run", "--profile", str(home / "bad.toml"))
    assert r.code == 2
    err = r.err
    assert "bad.toml:2: checks[2]: unknown check id 'system.resorces'" in err, err
    assert "bad.toml:3: required[1]: 'printers' is required but not among the profile's checks" in err
    assert "bad.toml:4: file_types" in err
    r = ppe("check", "run", "--profile", "no-such-profile")
    assert r.code == 2 and len(r.err_lines()) == 1 and "neither a built-in profile" in r.err


def test_a_required_check_skipped_means_not_ready(ppe, home):
    (home / "p.toml").write_text('title = "Печать"\nchecks = ["system.resources", "printers"]\n'
                                 'required = ["printers"]\n', encoding="utf-8")
    write_config(home)
    r = ppe("check", "run", "--profile", str(home / "p.toml"), "--json", "--no-journal")
    assert r.code == 1 and r.json["status"] == "pass"  # nothing failed, yet the station is not confirmed ready
    assert r.json["required_skipped"] == ["printers"] and r.json["ready"] is False
    r = ppe("check", "run", "--profile", str(home / "p.toml"), "--no-journal")
    assert "NOT READY: required checks were skipped: printers" in r.out
    r = ppe("check", "run", "--profile", str(home / "p.toml"), "--only", "system.resources", "--json", "--no-journal")
    assert r.code == 0 and r.json["full"] is False and r.json["ready"] is False  # a partial run is no pre-check


# -- network.isolated: only ever against 127.0.0.1 ---------------------------------------------

def test_isolated_fails_when_a_local_listener_answers_and_passes_when_nothing_listens(home):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        ctx = Context(config=load_config(write_config(home, probes=[f"127.0.0.1:{port}", f"127.0.0.1:{closed_port()}"]),
                                         explicit=True), data_dir=home, recordings_dir=home)
        out = network.isolated(ctx, Commands())
        assert out.status == Status.FAIL and out.data["answered"] == [f"127.0.0.1:{port}"]
    finally:
        listener.close()
    ctx = Context(config=load_config(write_config(home, probes=[f"127.0.0.1:{port}"]), explicit=True),
                  data_dir=home, recordings_dir=home)
    out = network.isolated(ctx, Commands())  # the same port, nothing listening now
    assert out.status == Status.PASS and "connection refused" in str(out.details[0])


def test_default_probes_are_public_addresses_and_probe_keys_are_validated(home):
    from ppe_tech.config import DEFAULT_PROBES, ConfigError, parse_config

    config = parse_config('[ppe]\nregion = "77"\n')
    assert list(config.checks.internet_probes) == list(DEFAULT_PROBES) and len(DEFAULT_PROBES) >= 3
    assert all(not p.startswith(("127.", "10.", "192.168.")) for p in DEFAULT_PROBES)
    with pytest.raises(ConfigError) as caught:
        parse_config('[checks]\ninternet_probes = ["8.8.8.8"]\n', "c.toml")
    assert caught.value.problems[0].startswith("c.toml:2: checks.internet_probes: ")


# -- the station's minimums ----------------------------------------------------------------------

def test_minimums_each_item_against_its_threshold(home):
    need = Minimums(cpu_cores=4, memory=8 * 2**30, free_disk=20 * 2**30, os=["astra>=1.7", "windows>=10"])
    ctx = Context(config=None, data_dir=home, recordings_dir=home, minimums=need)
    facts = {"cores": 2, "memory": 16 * 2**30, "free_disk": 50 * 2**30, "os": ("astra", "1.7.5", "Astra Linux 1.7")}
    out = minimums.minimums(ctx, Commands(), facts)
    assert out.status == Status.FAIL and "processor cores" in str(out.message) and "memory" not in str(out.message)
    assert len(out.details) == 4
    out = minimums.minimums(ctx, Commands(), {**facts, "cores": 8})
    assert out.status == Status.PASS
    out = minimums.minimums(ctx, Commands(), {**facts, "cores": 8, "os": ("astra", "1.6", "Astra Linux 1.6")})
    assert out.status == Status.FAIL and "operating system" in str(out.message)
    assert minimums.os_accepted("windows", "10.0.19045", ["windows>=10"])
    assert not minimums.os_accepted("windows", "6.1.7601", ["windows>=10"])
    assert minimums.os_accepted("redos", "7.3.4", ["astra>=1.7", "redos>=7.3"])
    assert minimums.os_accepted("altlinux", "", ["altlinux"])
    release = minimums.os_release('NAME="Astra Linux"\nID=astra\nVERSION_ID="1.7_x86-64"\n')
    assert release["ID"] == "astra" and minimums.os_accepted("astra", release["VERSION_ID"], ["astra>=1.7"])


def test_minimum_counts_take_the_singular_for_one(home):
    """«processor: 1 cores», «1 minimums met» read as wrong as «1 файлов»: counted check messages are plural-aware."""
    ctx = Context(config=None, data_dir=home, recordings_dir=home, minimums=Minimums(cpu_cores=1))
    one = minimums.minimums(ctx, Commands(), {"cores": 1, "memory": 0, "free_disk": 0, "os": ("debian", "12", "Debian")})
    assert one.status == Status.PASS and str(one.message) == "1 minimum met", one.message
    assert str(one.details[0]) == "processor: 1 core (at least 1)", one.details
    two = minimums.minimums(ctx, Commands(), {"cores": 2, "memory": 0, "free_disk": 0, "os": ("debian", "12", "Debian")})
    assert str(two.details[0]) == "processor: 2 cores (at least 1)", two.details


def test_config_minimums_override_the_profile(home):
    config = load_config(write_config(home, '[checks.minimums]\ncpu_cores = 1\nos = ["debian>=12"]\n'), explicit=True)
    merged = profiles.minimums(profiles.load("station"), config.checks.minimums)
    assert merged.cpu_cores == 1 and merged.os == ["debian>=12"] and merged.memory == 4 * 2**30  # the rest: the profile's


# -- monitors --------------------------------------------------------------------------------------

XRANDR_TWO = """Screen 0: minimum 320 x 200, current 3840 x 1080, maximum 16384 x 16384
eDP-1 connected primary 1920x1080+0+0 (normal left inverted right x axis y axis) 309mm x 173mm
   1920x1080     60.01*+  59.97    59.96
HDMI-1 connected 1920x1080+1920+0 (normal left inverted right x axis y axis) 531mm x 299mm
   1920x1080     60.00*+  50.00    59.94
DP-1 disconnected (normal left inverted right x axis y axis)
"""
XRANDR_ONE_SMALL = """Screen 0: minimum 320 x 200, current 1024 x 768, maximum 16384 x 16384
VGA-1 connected primary 1024x768+0+0 (normal left inverted right x axis y axis) 0mm x 0mm
   1024x768      60.00*
HDMI-1 connected (normal left inverted right x axis y axis)
"""


def test_monitors_from_xrandr_and_the_single_monitor_rule(home):
    assert display.parse_xrandr(XRANDR_TWO) == [("eDP-1", 1920, 1080), ("HDMI-1", 1920, 1080)]
    assert display.parse_xrandr(XRANDR_ONE_SMALL) == [("VGA-1", 1024, 768)]  # HDMI-1 connected but shows nothing
    kege = Context(config=None, data_dir=home, recordings_dir=home, minimums=profiles.load("kege").minimums)
    out = display.screens(kege, Commands(), (display.parse_xrandr(XRANDR_TWO), None))
    assert out.status == Status.FAIL and "2 monitors connected, one is allowed" in str(out.message)
    out = display.screens(kege, Commands(), (display.parse_xrandr(XRANDR_ONE_SMALL), None))
    assert out.status == Status.FAIL and "below 1280x1024: VGA-1" in str(out.message)
    out = display.screens(kege, Commands(), ([("eDP-1", 1920, 1080)], None))
    assert out.status == Status.PASS

    class Xrandr(Commands):
        def run(self, args, timeout=None, input=None):
            assert args == ["xrandr", "--query"]
            return 0, XRANDR_TWO, ""
    assert display.monitors(Xrandr(), "linux", {"DISPLAY": ":0"})[0] == display.parse_xrandr(XRANDR_TWO)
    shown, why = display.monitors(Xrandr(), "linux", {})
    assert shown is None and "no graphical session" in str(why)
    assert display.screens(kege, Commands(), (None, why)).status == Status.SKIP  # cannot tell: skipped, not passed


# -- file associations -----------------------------------------------------------------------------

def test_file_types_open_by_the_xdg_rules(tmp_path):
    data, config, bin_dir = tmp_path / "share", tmp_path / "config", tmp_path / "bin"
    (data / "applications" / "libreoffice").mkdir(parents=True)
    config.mkdir()
    bin_dir.mkdir()
    (bin_dir / "localc").write_text("#!/bin/sh\n", encoding="utf-8")
    (bin_dir / "localc").chmod(0o755)
    (data / "applications" / "libreoffice" / "calc.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=LibreOffice Calc\nExec=localc %U\n"
        "MimeType=application/vnd.oasis.opendocument.spreadsheet;\n", encoding="utf-8")
    (data / "applications" / "writer.desktop").write_text(  # its program is not installed: does not count
        "[Desktop Entry]\nType=Application\nName=LibreOffice Writer\nExec=lowriter %U\n"
        "MimeType=application/vnd.oasis.opendocument.text;\n", encoding="utf-8")
    (data / "applications" / "editor.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Блокнот\nExec=env LANG=C localc --text %F\n", encoding="utf-8")
    (config / "mimeapps.list").write_text("[Default Applications]\ntext/plain=missing.desktop;editor.desktop;\n",
                                          encoding="utf-8")
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(data), "XDG_DATA_DIRS": str(tmp_path / "none"),
           "XDG_CONFIG_HOME": str(config), "XDG_CONFIG_DIRS": str(tmp_path / "none")}

    def which(name):
        return str(bin_dir / name) if (bin_dir / name).exists() else None
    assert associations.xdg_handler(associations.MIME["ods"], env, which) == "LibreOffice Calc"
    assert associations.xdg_handler(associations.MIME["txt"], env, which) == "Блокнот"
    assert associations.xdg_handler(associations.MIME["odt"], env, which) is None
    ctx = Context(config=None, data_dir=tmp_path, recordings_dir=tmp_path, file_types=["ods", "odt", "txt"])
    out = associations.file_types(ctx, Commands(), "linux", env, which=which)
    assert out.status == Status.FAIL and out.data["missing"] == [".odt"]
    (bin_dir / "lowriter").write_text("#!/bin/sh\n", encoding="utf-8")
    assert associations.file_types(ctx, Commands(), "linux", env, which=which).status == Status.PASS


def test_file_types_open_by_the_windows_registry(tmp_path):
    """Values as `reg query` shows them on a station with LibreOffice and Notepad++."""
    values = {
        (r"HKCR\.ods", ""): "LibreOffice.CalcDocument.1",
        (r"HKCR\LibreOffice.CalcDocument.1\shell\open\command", ""):
            '"C:\\Program Files\\LibreOffice\\program\\scalc.exe" -o "%1"',
        (r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\FileExts\.txt\UserChoice", "ProgId"):
            "Applications\\notepad++.exe",
        (r"HKCR\Applications\notepad++.exe\shell\open\command", ""):
            '"C:\\Program Files\\Notepad++\\notepad++.exe" "%1"',
    }
    registry = lambda key, value: values.get((key, value))  # noqa: E731
    assert associations.windows_handler("ods", registry) == "scalc.exe"
    assert associations.windows_handler("txt", registry) == "notepad++.exe"
    assert associations.windows_handler("odt", registry) is None
    ctx = Context(config=None, data_dir=tmp_path, recordings_dir=tmp_path, file_types=["ods", "odt", "txt"])
    out = associations.file_types(ctx, Commands(), "win32", registry=registry)
    assert out.status == Status.FAIL and out.data["missing"] == [".odt"]


# -- the protocol ------------------------------------------------------------------------------------

LATIN_ERROR = re.compile(r"Errno|Error|Traceback|Exception|\b(?:not|no|the|is|was|did|does|found|refused|timed|failed|"
                         r"exited|answer|missing|unknown|below|program|command)\b|timedatectl|lpstat|xrandr|clamd|"
                         r"--version|\bPATH\b|sh -c")


def pdf_text(path: Path) -> str:
    return subprocess.run([host_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_protocol_is_russian_throughout_and_ready_only_when_nothing_required_is_missing(ppe, home, people, tmp_path):
    (home / "messy.toml").write_text(
        'title = "Станция печати"\nchecks = ["system.resources", "system.time", "software.required", "printers", '
        '"network", "network.isolated", "antivirus.scan", "integrity.baseline", "display.screens", "cameras"]\n'
        'required = ["system.resources", "antivirus.scan", "network.isolated"]\n'
        '[minimums]\nsingle_monitor = true\n', encoding="utf-8")
    write_config(home, f'ntp_server = "127.0.0.1:{closed_port()}"\nhosts = ["127.0.0.1:{closed_port()}"]\n'
                       'printers = ["HP_LaserJet"]\nexam_software = ["/nonexistent/exam-station"]\n'
                       '[[checks.required]]\nname = "Станция печати ЭМ"\ncommand = ["no-such-station-program", "-v"]\n'
                       '[[checks.required]]\nname = "Python"\ncommand = ["python3", "--version"]\nversion = ">=3.9"\n'
                       '[[cameras]]\nid = "corr-1"\nlocation = "corridor"\nurl = "rtsp://user:pw@127.0.0.1:'
                       f'{closed_port()}/s"\n'
                       '[[exams]]\nid = "math"\nsubject = "Математика"\nstart = "2026-06-01T10:00"\n')
    r = ppe("--lang", "en", "check", "run", "--profile", str(home / "messy.toml"), "--exam", "math",
            "--pdf", tmp_path / "messy.pdf", "--json")
    assert r.code == 1, r.err
    statuses = {c["id"]: c["status"] for c in r.json["checks"]}
    assert statuses["network"] == "fail" and statuses["software.required"] == "fail", statuses
    text = pdf_text(tmp_path / "messy.pdf")
    flat = " ".join(text.split())
    assert "Протокол проверки рабочей станции ППЭ" in flat
    assert "дополняет, но не заменяет формы ППЭ-01-01 и ППЭ-01-02" in flat
    assert "Итог проверки: НЕ ГОТОВ" in flat and "Итог проверки: ГОТОВ" not in flat
    assert "Станция печати" in flat and "соединение отклонено" in flat  # the refused host, in Russian
    found = LATIN_ERROR.findall(text)
    assert not found, (found, text)
    # a run where the whole profile passes: «ГОТОВ»
    (home / "tiny.toml").write_text(TINY, encoding="utf-8")
    r = ppe("check", "run", "--profile", str(home / "tiny.toml"), "--exam", "math", "--pdf", tmp_path / "ok.pdf",
            "--json")
    assert r.code == 0 and r.json["ready"] is True, r.out
    flat = " ".join(pdf_text(tmp_path / "ok.pdf").split())
    assert "Итог проверки: ГОТОВ" in flat and "Станция для теста" in flat
    # the same profile run in part: the protocol does not say ready
    r = ppe("check", "run", "--profile", str(home / "tiny.toml"), "--only", "system.resources", "--exam", "math",
            "--pdf", tmp_path / "part.pdf")
    assert r.code == 0
    flat = " ".join(pdf_text(tmp_path / "part.pdf").split())
    assert "ГОТОВНОСТЬ НЕ ПОДТВЕРЖДЕНА" in flat and "Итог проверки: ГОТОВ " not in flat
