"""The Windows bugs found under Wine, tested where they can be on any platform: output
encodings, clamd over TCP, ffmpeg filter escaping, Windows paths in TOML, key file ACLs."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import subprocess_env

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
    assert human.returncode == 0, human.stderr.decode("utf-8", "replace")
    text = human.stdout.decode("utf-8")  # strict: the bytes are UTF-8
    assert "→" in text and "проверка" in text.lower()
    as_json = ppe("exam", "plan", "--json")
    assert as_json.returncode == 0
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
    stream = io.TextIOWrapper(raw, encoding="cp1252")
    make_utf8(stream).write("✓ Ёлка\udcff\n")
    stream.close()
    assert (tmp_path / "out").read_bytes() == "✓ Ёлка\\udcff\n".encode("utf-8")
    captured = io.StringIO()
    assert make_utf8(captured) is captured  # not a real stream (pytest's capture): untouched
