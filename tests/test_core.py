"""Shared core: paths per platform, safe names, durations and sizes, canonical encoding, wrapping."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from journal import canonical
from ppe_tech import paths
from ppe_tech.timeutil import format_duration, parse_duration, parse_size


def test_platform_dirs():
    env = {"APPDATA": r"C:\Users\u\AppData\Roaming", "LOCALAPPDATA": r"C:\Users\u\AppData\Local",
           "XDG_CONFIG_HOME": "/x/config", "XDG_DATA_HOME": "/x/data"}
    assert paths.platform_config_dir(env, "win32") == Path(env["APPDATA"]) / "ppe-tech"
    assert paths.platform_data_dir(env, "win32") == Path(env["LOCALAPPDATA"]) / "ppe-tech"
    assert paths.platform_config_dir(env, "linux") == Path("/x/config/ppe-tech")
    assert paths.platform_data_dir(env, "linux") == Path("/x/data/ppe-tech")
    assert paths.platform_data_dir({}, "linux") == Path.home() / ".local" / "share" / "ppe-tech"


@pytest.mark.parametrize("name, safe", [("corr-2", "corr-2"), ("../../etc/passwd", "etc-passwd"),
                                        ("Коридор 2", "2"), ("..", "unnamed"), ("C:\\x", "c-x")])
def test_safe_component(name, safe):
    assert paths.safe_component(name) == safe


def test_durations_and_sizes():
    assert parse_duration("3h55m") == timedelta(hours=3, minutes=55)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert format_duration(parse_duration("1d2h3m4s")) == "1d2h3m4s"
    assert parse_size("10GiB") == 10 * 2**30 and parse_size("500MB") == 500 * 10**6
    for bad in ("", "10", "3 hours", "h3", "5x"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_size("lots")


def test_canonical_encoding_is_stable_and_rejects_floats():
    a = canonical.encode({"b": 1, "a": ["ж", None, True]})
    assert a == '{"a":["ж",null,true],"b":1}'.encode()
    assert canonical.encode(canonical.decode(a)) == a
    with pytest.raises(TypeError):
        canonical.encode({"x": 1.5})


def test_wrap_keeps_every_character_and_fits():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from templates.render import REGULAR, register_fonts, wrap
    register_fonts()
    text = "Извлечение карты памяти " * 5 + "a" * 120
    lines = wrap(text, REGULAR, 8, 100)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(stringWidth(line, REGULAR, 8) <= 100 for line in lines)
