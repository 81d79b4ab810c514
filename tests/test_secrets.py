"""Secrets never leave in clear: one masking rule for errors, tracebacks, logs, JSON, PDFs and
ffmpeg's own output, tried on a table of hostile URLs and on the real programs."""

from __future__ import annotations

import stat
import sys
import time

import pytest
from psycopg.conninfo import conninfo_to_dict

from journal import pgstore
from ppe_tech.secrets import mask_url, passwords_in

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
