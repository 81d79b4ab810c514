"""The Windows bugs found under Wine, tested where they can be on any platform: output
encodings, clamd over TCP, ffmpeg filter escaping, Windows paths in TOML, key file ACLs."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import UNDER_WINE, host_tool, subprocess_env

MSK = ZoneInfo("Europe/Moscow")


# --- 1. stdout and stderr are UTF-8 when redirected, whatever the code page ---------------

@pytest.mark.parametrize("encoding", ["cp1252", "cp1251", "ascii"])
def test_redirected_output_is_utf8_on_a_narrow_code_page(home, encoding):
    """Windows CPython writes pipes in the ANSI code page (cp1252; cp1251 has no ✓ or →);
    LANG=C gives ASCII. Redirected output must be UTF-8 and never crash."""
    start = (datetime.now(MSK) + timedelta(hours=1)).replace(second=0, microsecond=0, tzinfo=None)
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n'
        f'[[exams]]\nid = "math"\nsubject = "Математика"\nstart = "{start:%Y-%m-%dT%H:%M}"\n', encoding="utf-8")
    env = subprocess_env(PYTHONIOENCODING=encoding, LANG="C", LC_ALL="C", PYTHONUTF8="0")

    def ppe(*args):
        return subprocess.run([sys.executable, "-m", "ppe_tech", *args], cwd=home, env=env,
                              capture_output=True, timeout=60)

    human = ppe("--lang", "ru", "exam", "plan")
    # exit 1: the exam is in an hour, so the day-before check was missed (✗)
    assert human.returncode == 1 and b"Traceback" not in human.stderr, human.stderr.decode("utf-8", "replace")
    text = human.stdout.decode("utf-8")  # strict: the bytes are UTF-8
    assert "→" in text and "✗" in text and "проверка" in text.lower()
    as_json = ppe("exam", "plan", "--json")
    assert as_json.returncode == 1 and as_json.stdout.lstrip().startswith(b"{")
    assert "Математика".encode("utf-8") in as_json.stdout  # JSON keeps Russian as UTF-8, not \u escapes
    bad = ppe("--lang", "ru", "exam", "plan", "--exam", "nope")
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    err = bad.stderr.decode("utf-8")
    assert err.startswith("ppe-tech: ") and any("а" <= ch <= "я" for ch in err.lower())


def test_make_utf8_keeps_a_capable_terminal_and_fixes_a_pipe(tmp_path):
    import io

    from ppe_tech.streams import can_encode, make_utf8

    assert can_encode("utf-8") and can_encode("cp866") is False and can_encode("cp1251") is False
    assert can_encode("no-such-codec") is False
    raw = open(tmp_path / "out", "wb")
    stream = io.TextIOWrapper(raw, encoding="cp1252", newline="\n")
    make_utf8(stream).write("✓ Ёлка\udcff\n")
    stream.close()
    assert (tmp_path / "out").read_bytes() == "✓ Ёлка\\udcff\n".encode("utf-8")
    captured = io.StringIO()
    assert make_utf8(captured) is captured  # not a real stream (pytest's capture): untouched


# --- 2. clamd over TCP: Windows CPython has no AF_UNIX, clamd on Windows listens on TCP ---------

def test_clamd_endpoint_forms():
    from checks.antivirus import clamd_endpoint

    assert clamd_endpoint("tcp://127.0.0.1:3310") == ("tcp", ("127.0.0.1", 3310))
    assert clamd_endpoint("127.0.0.1:3310") == ("tcp", ("127.0.0.1", 3310))
    assert clamd_endpoint("tcp://[::1]:3310") == ("tcp", ("::1", 3310))
    assert clamd_endpoint("localhost:3310") == ("tcp", ("localhost", 3310))
    assert clamd_endpoint("/run/clamav/clamd.ctl") == ("unix", "/run/clamav/clamd.ctl")
    for bad in ("tcp://127.0.0.1", "tcp://127.0.0.1:70000", "tcp://:3310"):
        with pytest.raises(ValueError):
            clamd_endpoint(bad)


@pytest.fixture(scope="module")
def tcp_clamd(tmp_path_factory):
    from checks import localclam

    host_tool("clamd")
    if localclam.clamd_program() is None:
        pytest.fail("clamd is not installed: `make test` installs clamav-daemon (scripts/bootstrap.sh)")
    base = tmp_path_factory.mktemp("clamd-tcp")
    with localclam.LocalClamd(base, localclam.eicar_database(base / "db"), timeout=60, tcp=True) as daemon:
        yield daemon


def test_real_clamd_over_tcp_finds_eicar(ppe, home, tcp_clamd, tmp_path):
    """The check as on Windows: clamd_socket = "tcp://127.0.0.1:PORT", a real clamd there."""
    from checks.localclam import EICAR_BODY

    assert tcp_clamd.address.startswith("tcp://127.0.0.1:")
    exam = tmp_path / "exam"
    exam.mkdir()
    (exam / "clean.dll").write_bytes(b"\0" * 4096)
    (exam / "update.com").write_bytes(b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + EICAR_BODY + b"!$H+H*")
    (home / "ppe-tech.toml").write_text(
        f"[ppe]\nregion = \"77\"\ncode = \"0123\"\n[checks]\nexam_software = ['{exam}']\n"
        f"[antivirus]\nengine = \"clamav\"\nclamd_socket = \"{tcp_clamd.address}\"\n"
        f"database = '{tcp_clamd.database}'\n", encoding="utf-8")
    r = ppe("check", "run", "--only", "antivirus.scan", "--json", "--no-journal")
    check = r.json["checks"][0]
    assert r.code == 1 and check["data"]["method"] == "clamd MULTISCAN", check
    assert [name for _path, name in check["data"]["infected"]] == ["Ppe-Eicar-Test.UNOFFICIAL"]
    r = ppe("check", "run", "--only", "antivirus.status", "--json", "--no-journal")
    assert f"clamd answers on {tcp_clamd.address}" in json_text(r.json), r.json
    # INSTREAM (what the check streams when clamd may not read a file) over TCP too
    from checks.antivirus import Clamd

    assert Clamd(tcp_clamd.address).instream(exam / "update.com").endswith("Ppe-Eicar-Test.UNOFFICIAL FOUND")


def json_text(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def test_without_af_unix_the_default_means_tcp_and_a_path_is_refused(monkeypatch, home, ppe, tcp_clamd):
    """Windows CPython: socket has no AF_UNIX. The POSIX default socket becomes clamd's TCP
    default, a path in the config is bad input naming TCP, and no AttributeError escapes."""
    import socket

    from checks.antivirus import WINDOWS_CLAMD, Clamd

    monkeypatch.delattr(socket, "AF_UNIX")
    assert Clamd("/run/clamav/clamd.ctl").address == WINDOWS_CLAMD
    with pytest.raises(OSError, match="TCP"):
        Clamd("/some/clamd.sock")._connect(1)
    assert Clamd("/some/clamd.sock").ping() is False
    assert Clamd(tcp_clamd.address).ping() is True
    (home / "ppe-tech.toml").write_text('[ppe]\nregion = "77"\ncode = "0123"\n'
                                        '[antivirus]\nclamd_socket = "/var/run/clamd.sock"\n', encoding="utf-8")
    r = ppe("check", "run", "--only", "antivirus.status", "--json", "--no-journal")
    assert r.code == 2 and "clamd_socket" in r.err and WINDOWS_CLAMD in r.err, r.err


@pytest.mark.parametrize("value", ["tcp://127.0.0.1", "tcp://127.0.0.1:99999", "clamd.sock"])
def test_bad_clamd_address_is_one_line(home, ppe, value):
    (home / "ppe-tech.toml").write_text(f'[ppe]\nregion = "77"\ncode = "0123"\n'
                                        f'[antivirus]\nclamd_socket = "{value}"\n', encoding="utf-8")
    r = ppe("check", "run", "--only", "antivirus.status", "--json", "--no-journal")
    assert r.code == 2 and len(r.err_lines()) == 1 and "antivirus.clamd_socket" in r.err, r.err
    assert "tcp://" in r.err


# --- 3. filter option values escaped as ffmpeg's filtergraph syntax says -------------------

def test_filter_option_follows_the_ffmpeg_filters_manual():
    from video.ffmpeg import filter_option

    # the example of ffmpeg-filters(1), "Notes on filtergraph escaping"
    text = "this is a 'string': may contain one, or more, special characters"
    assert filter_option(text) == r"this is a \\\'string\\\'\\: may contain one\, or more\, special characters"
    assert filter_option(r"Z:\work\fonts\DejaVu.ttf") == r"Z\\:\\\\work\\\\fonts\\\\DejaVu.ttf"
    assert filter_option("a[b];c") == r"a\[b\]\;c"
    assert filter_option("plain/path.ttf") == "plain/path.ttf"


@pytest.mark.skipif(sys.platform == "win32", reason="a folder named 'Z:\\…' is a drive path on Windows; there the "
                    "simulator's own Z:\\ font path is the real case (every camera test)")
def test_real_ffmpeg_reads_a_font_path_with_colon_backslash_and_quote(tmp_path):
    """What Windows paths do to drawtext (`Z:\\...`), done on Linux with a folder whose name
    has ':', '\\', "'" and ','; ffmpeg fails on the raw path and draws with the escaped one."""
    import shutil

    from video.ffmpeg import filter_option
    from video.simulator import FONT

    folder = tmp_path / "Z:\\fonts,it's"
    folder.mkdir()
    font = folder / "DejaVu.ttf"
    shutil.copy(FONT, font)

    def draw(fontfile: str) -> subprocess.CompletedProcess:
        chain = f"drawtext=fontfile={fontfile}:text=ППЭ 0123:fontsize=40:fontcolor=white:x=10:y=10"
        return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=black:size=160x90",
                               "-vf", chain, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                              capture_output=True, timeout=60)

    raw = draw(str(font))
    assert raw.returncode != 0
    drawn = draw(filter_option(str(font)))
    assert drawn.returncode == 0, drawn.stderr.decode(errors="replace")
    assert len(drawn.stdout) == 160 * 90 and max(drawn.stdout) > 200  # white text on black


def test_simulator_escapes_its_font_path(monkeypatch):
    from video import simulator

    monkeypatch.setattr(simulator, "FONT", simulator.Path(r"Z:\work\templates\fonts\DejaVu.ttf"))
    _source, chain = simulator._filters(simulator.CameraSpec(name="cam-1"))
    assert r"drawtext=fontfile=Z\\:\\\\work\\\\templates" in chain


# --- 4. Windows paths in TOML ---------------------------------------------------------------

def test_toml_string_writes_windows_paths_as_literal_strings():
    import tomllib

    from ppe_tech.config import toml_string

    for value in (r"C:\Program Files\ExamStation", r"\\server\share\новая папка", r"D:\temp\x"):
        written = toml_string(value)
        assert written == f"'{value}'"
        assert tomllib.loads(f"a = {written}")["a"] == value
    assert toml_string("/opt/exam-station") == '"/opt/exam-station"'
    assert toml_string("it's C:\\x") == '"it\'s C:\\\\x"'  # a quote inside: a basic string, escaped
    assert tomllib.loads(f"a = {toml_string(chr(92) + 'n' + chr(10))}")["a"] == "\\n\n"


def test_init_on_windows_writes_windows_paths_that_load():
    from ppe_tech.config import parse_config, render_init

    text = render_init({"region": "77", "code": "0123"}, platform="win32")
    # examples stay comments (nobody chose them), written as TOML takes them once uncommented
    line = next(x for x in text.splitlines() if x.startswith("# exam_software = "))
    assert line.startswith("# exam_software = ['C:\\Program Files\\ExamStation']")
    assert "# clamd_socket = \"tcp://127.0.0.1:3310\"" in text
    uncommented = text.replace(line, line[2:].split("    #")[0])
    config = parse_config(uncommented, "ppe-tech.toml")
    assert config.checks.exam_software == [r"C:\Program Files\ExamStation"]
    assert parse_config(text, "ppe-tech.toml").checks.exam_software == []
    assert "/opt/exam-station" in render_init({"region": "77", "code": "0123"}, platform="linux")


@pytest.mark.parametrize("line", ['exam_software = ["C:\\Program Files\\Exam"]',
                                  'exam_software = ["C:\\users\\exam"]'])
def test_windows_path_in_double_quotes_says_use_single_quotes(home, ppe, line):
    (home / "ppe-tech.toml").write_text(f'[ppe]\nregion = "77"\ncode = "0123"\n[checks]\n{line}\n',
                                        encoding="utf-8")
    r = ppe("check", "run", "--only", "system.resources", "--json", "--no-journal")
    assert r.code == 2 and len(r.err_lines()) == 1, r.err
    assert "ppe-tech.toml:5: not valid TOML" in r.err and "use single quotes" in r.err


# --- 5. key files private on Windows: an ACL of the current user alone --------------------

ICACLS = __import__("pathlib").Path(__file__).parent / "data" / "icacls"
WIN_KEY = r"C:\Users\ivanov\AppData\Local\ppe-tech\keys\.abc.key.tmp"


def test_icacls_output_is_read_and_judged():
    from ppe_tech.winacl import judge, parse_icacls

    inherited = parse_icacls((ICACLS / "inherited.txt").read_text(encoding="utf-8"), WIN_KEY)
    assert inherited == [("NT AUTHORITY\\SYSTEM", "(I)(F)"), ("BUILTIN\\Administrators", "(I)(F)"),
                         ("PPE-01\\ivanov", "(I)(F)")]
    assert judge(inherited, "PPE-01\\ivanov") is False
    private = parse_icacls((ICACLS / "private.txt").read_text(encoding="utf-8"), WIN_KEY)
    assert private == [("PPE-01\\ivanov", "(F)")]
    assert judge(private, "PPE-01\\ivanov") is True and judge(private, "PPE-01\\petrov") is False
    assert judge(parse_icacls("", WIN_KEY), "PPE-01\\ivanov") is None  # Wine's stub: nothing to judge


@pytest.fixture
def fake_windows(monkeypatch, tmp_path):
    if sys.platform == "win32":
        pytest.skip("the fake icacls is a POSIX script; on Windows (Wine) see test_make_private_under_wine")
    """sys.platform = win32 and an `icacls` on PATH that logs its arguments and prints the
    recorded ACL named by $ICACLS_SHOWS after a restricting call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "icacls.log"
    script = bin_dir / "icacls"
    script.write_text(f"#!{sys.executable}\nimport os, sys\n"
                      f"open({str(log)!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
                      "if len(sys.argv) == 2:\n"
                      "    sys.stdout.write(open(os.environ['ICACLS_SHOWS'], encoding='utf-8').read()"
                      ".replace(" + repr(WIN_KEY) + ", sys.argv[1]))\n"
                      "else:\n    print('processed file: ' + sys.argv[1])\n"
                      "    print('Successfully processed 1 files; Failed processing 0 files')\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("USERDOMAIN", "PPE-01")
    monkeypatch.setenv("USERNAME", "ivanov")
    monkeypatch.setattr(sys, "platform", "win32")
    return log


def test_make_private_on_windows_sets_and_reads_back_the_acl(fake_windows, tmp_path, monkeypatch):
    from ppe_tech.errors import EnvironmentFailure
    from ppe_tech.winacl import make_private

    key = tmp_path / "k.key"
    key.write_text("{}", encoding="utf-8")
    monkeypatch.setenv("ICACLS_SHOWS", str(ICACLS / "private.txt"))
    assert make_private(key) is True
    calls = fake_windows.read_text().splitlines()
    assert calls == [repr([str(key), "/inheritance:r", "/grant:r", "PPE-01\\ivanov:(F)"]), repr([str(key)])]
    monkeypatch.setenv("ICACLS_SHOWS", str(ICACLS / "inherited.txt"))
    with pytest.raises(EnvironmentFailure, match="readable by others"):
        make_private(key)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("ICACLS_SHOWS", str(empty))
    assert make_private(key) is None  # Wine: not verified, not trusted


def test_keys_create_restricts_the_key_file(ppe, home, fake_windows, monkeypatch):
    monkeypatch.setenv("ICACLS_SHOWS", str(ICACLS / "private.txt"))
    r = ppe("keys", "create", "--station", "--json")
    assert r.code == 0, r.err
    first = fake_windows.read_text().splitlines()[0]
    assert "/inheritance:r" in first and ".key.tmp" in first


@pytest.mark.skipif(not UNDER_WINE, reason="Wine's icacls: only under Wine")
def test_make_private_under_wine_is_not_verified(tmp_path):
    """Wine's icacls is a silent stub (exit 0, no output): the ACL cannot be read back, and
    make_private says so (None) instead of claiming the file is private."""
    from ppe_tech.winacl import make_private

    key = tmp_path / "k.key"
    key.write_text("{}", encoding="utf-8")
    assert make_private(key) is None


def test_ffmpeg_exe_error_numbers_are_named():
    """ffmpeg.exe prints socket errors as numbers (MSVC errno.h): they read as the Linux words."""
    from video.health import _describe_error

    assert _describe_error("[tcp @ 0000] Connection to tcp://127.0.0.1:1 failed: Error number -107 occurred") \
        == "connection refused"
    assert _describe_error("rtsp://127.0.0.1:9/x: Error number -138 occurred") == "no answer (timed out)"
    assert _describe_error("Connection to tcp://127.0.0.1:1 failed: Connection refused") == "connection refused"


# --- 6. local time in segment names: Windows' C runtime does not read IANA zone names ------

def test_tz_env_gives_windows_the_zone_offset_in_its_c_runtime_form():
    from video.ffmpeg import tz_env

    assert tz_env("Europe/Moscow", platform="linux") == "Europe/Moscow"
    assert tz_env("Europe/Moscow", platform="win32") == "LOC-03"
    assert tz_env("Asia/Kolkata", platform="win32") == "LOC-05:30"
    assert tz_env("America/St_Johns", 0, platform="win32") == "LOC03:30"  # 1 Jan 1970: UTC-3:30, west
    assert tz_env("UTC", platform="win32") == "LOC00"


@pytest.mark.parametrize("zone", ["Europe/Moscow", "Asia/Kolkata", "Asia/Vladivostok"])
def test_ffmpeg_names_segments_in_the_station_zone(tmp_path, zone):
    """The recorder's segment names are local time (-strftime): with TZ as the recorder sets it,
    ffmpeg's name is the zone's wall clock on every platform (ffmpeg.exe named Moscow's
    segments in UTC when given TZ=Europe/Moscow, and the archive took them for unreadable)."""
    import os

    from video import ffmpeg

    before = datetime.now(ZoneInfo(zone)).replace(microsecond=0, tzinfo=None)
    env = subprocess_env(TZ=ffmpeg.tz_env(zone))
    done = subprocess.run([ffmpeg.tool("ffmpeg"), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                           "testsrc2=size=64x48:rate=5", "-t", "1", "-c:v", "mpeg2video", "-f", "segment",
                           "-segment_format", "mpegts", "-strftime", "1", str(tmp_path / "c_%Y%m%d_%H%M%S.ts")],
                          env=env, capture_output=True, timeout=60)
    after = datetime.now(ZoneInfo(zone)).replace(microsecond=0, tzinfo=None)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.glob("c_*.ts"))
    assert names, os.listdir(tmp_path)
    named = datetime.strptime(names[0], "c_%Y%m%d_%H%M%S.ts")
    assert before - timedelta(seconds=1) <= named <= after + timedelta(seconds=1), (names[0], before, after)
