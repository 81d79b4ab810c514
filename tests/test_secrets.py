"""Secrets never leave in clear: one masking rule for errors, tracebacks, logs, JSON, PDFs and
ffmpeg's own output, tried on a table of hostile URLs and on the real programs."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil
import pytest
from psycopg.conninfo import conninfo_to_dict

from conftest import Simulator, wait_for
from journal import pgstore
from ppe_tech.secrets import mask_url, passwords_in
from video import recorder, segments

# (text, the secret that must disappear, what must stay to say where)
HOSTILE = [
    ("rtsp://admin:ss@LeakWombat@127.0.0.1:554/s", "LeakWombat", "rtsp://admin:***@127.0.0.1:554/s"),
    ("rtsp://admin:p%40ssLeak%2F@127.0.0.1/s", "ssLeak", "rtsp://admin:***@127.0.0.1/s"),
    ("rtsp://admin:Leak:colon@h/", "Leak", "rtsp://admin:***@h/"),
    ("rtsp://:LeakNoUser@h/", "LeakNoUser", "rtsp://:***@h/"),
    ("RTSP://u:LeakUpper@h/", "LeakUpper", "RTSP://u:***@h/"),
    ("rtsp://u:LeakV6@[::1]:554/s", "LeakV6", "rtsp://u:***@[::1]:554/s"),
    ("http://u:LeakQ@h?x=1", "LeakQ", "http://u:***@h?x=1"),
    ("rtsp://u:LeakF@h#frag", "LeakF", "rtsp://u:***@h#frag"),
    ("rtsp://u:LeakEnd@h", "LeakEnd", "rtsp://u:***@h"),
    ("error: 'rtsp://u:LeakQuoted@h/x' failed", "LeakQuoted", "rtsp://u:***@h/x"),
    ("(rtsp://u:Le@kParen@h)", "kParen", "(rtsp://u:***@h)"),
    ("rtsp://a:LeakOne@h,rtsp://b:LeakTwo@h/", "Leak", "rtsp://a:***@h,rtsp://b:***@h/"),
    ("see rtsp://u:LeakA@h/a and http://x:LeakB@z/", "Leak", "see rtsp://u:***@h/a and http://x:***@z/"),
    ("[rtsp @ 0x55d] rtsp://admin:p@ssLeak@127.0.0.1:8554/x: 401", "ssLeak", "[rtsp @ 0x55d] rtsp://admin:***@127.0.0.1"),
    ("postgresql://u:LeakPg@h/db?sslmode=require", "LeakPg", "postgresql://u:***@h/db?sslmode=require"),
    ("postgresql://u@h/db?password=LeakQuery&sslmode=require", "LeakQuery", "?password=***&sslmode=require"),
    ("postgresql://u@h/db?sslmode=require&password=LeakLast", "LeakLast", "&password=***"),
    ("postgresql://u@h/db?sslpassword=LeakSsl", "LeakSsl", "?sslpassword=***"),
    ("host=127.0.0.1 password=LeakKw dbname=x", "LeakKw", "host=127.0.0.1 password=*** dbname=x"),
    ("host=127.0.0.1 password='Le ak\\'Kw' dbname=x", "ak", "host=127.0.0.1 password=*** dbname=x"),
    ("host=127.0.0.1 PASSWORD = LeakSpaced", "LeakSpaced", "PASSWORD = ***"),
    ("PGPASSWORD=LeakEnv psql", "LeakEnv", "PGPASSWORD=*** psql"),
]


@pytest.mark.parametrize("text,secret,kept", HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_urls_are_masked_whole(text, secret, kept):
    masked = mask_url(text)
    assert secret not in masked, masked
    assert kept in masked, masked
    assert mask_url(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize("text", ["rtsp://192.0.2.1/s", "postgresql://ppe_0123@rcoi.example/journals",
                                  "[rtsp @ 0x55d] method DESCRIBE failed: 401", "v4l2:/dev/video0",
                                  "mail admin@example.org", "passwords must match"])
def test_text_without_secrets_is_left_alone(text):
    assert mask_url(text) == text


def test_the_password_of_the_url_in_question_is_masked_however_printed():
    """A program or a driver may print the password decoded or cut out of its URL: the password
    of the URL the output is about is masked wherever it appears, as written and decoded."""
    url = "rtsp://admin:p%40ssKnown@192.0.2.1/s"
    assert mask_url("user admin, password p@ssKnown rejected", known=url) == "user admin, password *** rejected"
    assert mask_url("auth with 'pgLeak9' failed", known="postgresql://u:pgLeak9@h/db") == "auth with '***' failed"
    assert mask_url("a pass b", known="rtsp://u:a@h/") == "a pass b"  # too short to mask outside its URL
    assert passwords_in("rtsp://a:b%40c@h/") == {"b%40c", "b@c"}


def test_a_password_with_at_never_reaches_the_resolver():
    """libpq splits at the first '@', so it would look up the rest of the password as a host;
    ppe-tech reads the userinfo up to the last '@' (as ffmpeg and urllib do) and encodes the rest."""
    url = "postgresql://ppe:ss@Leak@127.0.0.1:5/db?sslmode=disable"
    assert conninfo_to_dict(url)["host"] == "Leak@127.0.0.1"  # what libpq alone would do
    parsed = conninfo_to_dict(pgstore.libpq_url(url))
    assert (parsed["host"], parsed["password"], parsed["user"], parsed["port"]) == ("127.0.0.1", "ss@Leak", "ppe", "5")
    for plain in ("postgresql://ppe@127.0.0.1/db", "postgresql://ppe:p%40ss@h/db", "postgresql://u:p@h/db?x=a@b"):
        assert pgstore.libpq_url(plain) == plain


@pytest.mark.parametrize("url", ["postgresql://ppe:ss@LeakWombat@127.0.0.1:1/db",
                                 "postgresql://ppe@127.0.0.1:1/db?password=LeakWombat",
                                 "host=127.0.0.1 port=1 password=LeakWombat"])
def test_database_passwords_masked_in_errors_and_debug(ppe, home, url):
    for extra in ([], ["--debug"]):
        r = ppe(*extra, "region", "verify", "--db", url)
        assert r.code in (2, 3), r.err
        assert "Leak" not in r.err + r.out, r.err
        assert "translate host name" not in r.err, r.err
    if url.startswith("postgresql://ppe:"):
        assert "127.0.0.1" in r.err and "***" in r.err  # it tried the real host; the message says which


def test_debug_traceback_is_masked(ppe, home, monkeypatch):
    def boom(url, **_kw):
        raise ValueError(f"driver said: cannot use {url}")
    monkeypatch.setattr(pgstore, "connect", boom)
    r = ppe("--debug", "region", "verify", "--db", "postgresql://ppe:LeakTrace@127.0.0.1:1/db")
    assert r.code == 3
    assert "Traceback" in r.err and "ValueError" in r.err
    assert "LeakTrace" not in r.err and "postgresql://ppe:***@127.0.0.1:1/db" in r.err


def test_check_results_and_documents_are_masked(tmp_path):
    from checks.model import Result, Status
    from templates import render

    r = Result("x", "X", Status.FAIL, "cannot open rtsp://u:LeakCheck@h/s", 1, details=["password=LeakDetail"],
               message_ru="нет rtsp://u:LeakCheck@h/s")
    assert "Leak" not in repr(r.as_json()) + r.message_ru
    render.register_fonts()
    lines = render.wrap("камера rtsp://u:LeakPdf@h/s недоступна", render.REGULAR, 9, 500)
    assert "LeakPdf" not in " ".join(lines)


def test_ffmpeg_log_is_masked_and_private(simulator, tmp_path):
    """A camera refusing its password: ffmpeg prints the URL it could not open; the log keeps
    the line with the password masked, and is readable by its owner only."""
    from video import recorder

    port_url = simulator.url("secured")  # rtsp://admin:s3cr3t-pass@127.0.0.1:PORT/secured
    bad = port_url.replace("s3cr3t-pass", "wr@ngLeakWombat%21")
    state = tmp_path / "recorder"
    state.mkdir()
    sup = recorder.Supervisor([("secured", bad)], tmp_path / "rec", state, segment_s=5, timeout_s=5)
    run = sup.runs[0]
    sup._start(run)
    try:
        run.proc.wait(timeout=30)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    log = state / "ffmpeg-secured.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "401" not in log.read_text(errors="replace"):
        time.sleep(0.1)
    text = log.read_text(errors="replace")
    assert "401" in text, text  # ffmpeg did print its failure
    assert "Wombat" not in text and "ngLeak" not in text, text
    assert "rtsp://admin:***@127.0.0.1" in text, text
    if sys.platform != "win32":  # Windows: an ACL instead (tests/test_windows.py), modes mean nothing there
        assert stat.S_IMODE(log.stat().st_mode) == 0o600


# -- camera passwords never in a command line --------------------------------------------------

# ' and \ in the password: ffconcat's quoting (single quotes, ' escaped outside them) is exercised
# by the real ffmpeg against a camera that checks it
ARGV_SECRET = "Arg'v\\Leak-7"
MUTE_SECRET = "MuteLeak-7"


@pytest.fixture(scope="module")
def argv_sim(sim_cache):
    sim = Simulator([{"name": "secured", "user": "admin", "password": ARGV_SECRET},
                     {"name": "mute", "fault": "silent", "user": "admin", "password": MUTE_SECRET}], sim_cache)
    yield sim
    sim.stop()


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _leaks(data: bytes) -> bool:
    return any(form.encode() in data for form in (ARGV_SECRET, MUTE_SECRET, "Leak-7"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads other processes' /proc/PID/cmdline")
def test_recording_keeps_the_camera_password_out_of_every_command_line(ppe, home, argv_sim):
    url = argv_sim.url("secured")
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\ncode = "0123"\ntimezone = "Europe/Moscow"\n[recording]\nsegment = "2s"\nstall_timeout = "4s"\n'
        f'timeout = "5s"\n[[cameras]]\nid = "secured"\nlocation = "corridor"\nurl = {json.dumps(url)}\n',
        encoding="utf-8")
    (home / "ppe-tech.toml").chmod(0o600)
    assert ppe("keys", "create", "--station").code == 0
    state_dir = home / "data" / "recorder"
    try:
        assert ppe("cameras", "start").code == 0
        camera = lambda: (recorder.read_state(state_dir) or {}).get("cameras", {}).get("secured", {})  # noqa: E731
        assert wait_for(lambda: camera().get("recording"), 15), camera()
        pid, supervisor = camera()["ffmpeg_pid"], recorder.read_state(state_dir)["pid"]
        root = home / "data" / "recordings"
        assert wait_for(lambda: len(segments.files(root, "secured")) >= 2, 15)  # written while we look
        ffmpeg_argv = _cmdline(pid)
        assert b"ffmpeg" in ffmpeg_argv and b"pipe:0" in ffmpeg_argv
        assert not _leaks(ffmpeg_argv) and not _leaks(_cmdline(supervisor)), ffmpeg_argv
        assert psutil.Process(pid).is_running() and camera()["restarts"] == 0
        # the pre-check agrees: no command line carries a camera password
        r = ppe("check", "run", "--only", "system.process_args", "--json", "--no-journal")
        assert r.json["checks"][0]["status"] == "pass", r.json
    finally:
        ppe("cameras", "stop")
    files = segments.files(root, "secured")
    tz = ZoneInfo("Europe/Moscow")
    infos = [segments.probe(p, "secured", tz) for p in files]
    assert all(i.frames > 0 and i.error is None for i in infos), infos
    # -use_wallclock_as_timestamps still stamps the packets: each segment starts at its name's time
    assert all(abs(i.start - segments.name_time(Path(i.path), tz)) < 3 for i in infos), infos
    log = (state_dir / "ffmpeg-secured.log").read_text(errors="replace")
    assert "461" not in log, log  # RTSP over TCP from the first SETUP: `option rtsp_transport` reached it
    # the URL was never written to disk: no file of the data dir holds the password
    assert not any(_leaks(p.read_bytes()) for p in (home / "data").rglob("*") if p.is_file())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads other processes' /proc/PID/cmdline")
def test_snapshot_and_probe_keep_the_password_out_of_argv(argv_sim, tmp_path):
    from video import ffmpeg, health

    url = argv_sim.url("secured")
    seen: list[bytes] = []
    done = threading.Event()

    def watch() -> None:  # the sampling ffmpeg lives for its 3 s: read its command line meanwhile
        me = psutil.Process()
        while not done.is_set():
            for child in me.children():
                try:
                    if "ffmpeg" in child.name() and (argv := _cmdline(child.pid)):  # b"" once a zombie
                        seen.append(argv)
                except (psutil.Error, OSError):
                    pass
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        sample = health.sample("secured", url, seconds=3, timeout_s=5, snapshot=tmp_path / "secured.jpg")
    finally:
        done.set()
        watcher.join()
    assert sample.frames and sample.codec == "h264" and (tmp_path / "secured.jpg").stat().st_size > 1000
    assert seen and all(b"pipe:0" in argv and not _leaks(argv) for argv in seen), seen[:1]
    command = ffmpeg.probe_command(url, 5)
    assert not any(_leaks(a.encode()) for a in command.argv) and command.stdin and _leaks(command.stdin)
    done_probe = ffmpeg.run(command, capture_output=True, timeout=10)
    assert done_probe.returncode == 0 and json.loads(done_probe.stdout)["streams"][0]["codec_name"] == "h264"
    assert b"461" not in done_probe.stderr, done_probe.stderr  # TCP at once
    assert health.probe("secured", url, timeout_s=5).reachable


def test_the_io_timeout_reaches_the_camera_behind_the_concat_list(argv_sim, tmp_path):
    """A camera that accepts and never answers, its password kept out of argv: ffmpeg's own
    socket timeout (the list's `option timeout`) ends it, not our hard deadline; without the
    option it would wait forever."""
    from video import health

    url = argv_sim.url("mute")
    started = time.monotonic()
    result = health.probe("mute", url, timeout_s=2)
    elapsed = time.monotonic() - started
    assert not result.reachable and result.error != "no answer within the timeout", result
    assert elapsed < 2.9, elapsed
    state = tmp_path / "recorder"
    state.mkdir()
    sup = recorder.Supervisor([("mute", url)], tmp_path / "rec", state, segment_s=2, timeout_s=2)
    run = sup.runs[0]
    started = time.monotonic()
    sup._start(run)
    try:
        if sys.platform.startswith("linux"):
            assert not _leaks(_cmdline(run.proc.pid))
        assert run.proc.wait(timeout=8) != 0  # ffmpeg gave up by itself
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("text,quoted", [
    ("rtsp://u:p@h/s", "'rtsp://u:p@h/s'"),
    ("rtsp://u:it's@h/s", r"'rtsp://u:it'\''s@h/s'"),
    ("rtsp://ad\\min:p\\w@h/s", r"'rtsp://ad\min:p\w@h/s'"),  # a backslash is literal inside the quotes
    (r"C:\Users\O'Brien\cam 1.ts", r"'C:\Users\O'\''Brien\cam 1.ts'"),  # a Windows path, blank included
    (r"\\server\share\cam.ts", r"'\\server\share\cam.ts'"),
    ("пароль", "'пароль'"),
])
def test_ffconcat_quoting(text, quoted):
    from video import ffmpeg

    assert ffmpeg.concat_quote(text) == quoted


@pytest.mark.parametrize("text", ["rtsp://u:p\n@h/s", "rtsp://u:p\r@h/s", "rtsp://u:p\0@h/s"])
def test_ffconcat_refuses_what_it_cannot_quote(text):
    from video import ffmpeg

    with pytest.raises(ValueError):
        ffmpeg.concat_quote(text)


def test_ffconcat_quoting_is_what_ffmpeg_reads(tmp_path):
    """A file whose path holds ' \\ and a blank (on Windows its own separators are the
    backslashes), opened by the real ffprobe through a concat list on its stdin."""
    from video import ffmpeg

    folder = tmp_path / "it's here"
    folder.mkdir()
    path = folder / ("cam \\ 1's.ts" if sys.platform != "win32" else "cam 1's.ts")
    subprocess.run([ffmpeg.tool("ffmpeg"), "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5",
                    "-t", "1", "-c:v", "mpeg2video", "-f", "mpegts", str(path)], check=True)
    command = ffmpeg.Command([ffmpeg.tool("ffprobe"), "-v", "error", "-f", "concat", "-safe", "0",
                              "-protocol_whitelist", "pipe,file", "-show_entries", "stream=codec_name,width",
                              "-of", "json", "-i", "pipe:0"],
                             # file: since a bare path would resolve against the list's own URL, pipe:
                             ffmpeg.concat_list(f"file:{path}", [("probesize", "100000")]))
    done = ffmpeg.run(command, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    stream = json.loads(done.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"]) == ("mpeg2video", 64)
