"""Configuration: `init` writes a file that loads; every mistake is named with file and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ppe_tech.config import ConfigError, parse_config, render_init


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "cfg.toml")
    return info.value.problems


def test_init_output_loads_with_defaults():
    config = parse_config(render_init({"region": "77", "code": "0123"}))
    assert config.ppe.region == "77" and config.ppe.code == "0123"
    assert config.recording.segment == timedelta(seconds=60)
    assert config.recording.floor == 10 * 2**30
    assert config.antivirus.max_signature_age == timedelta(days=7)
    assert config.cameras == [] and config.exams == []


def test_commented_examples_load_when_uncommented():
    text = render_init({}).replace("# [[cameras]]", "[[cameras]]")
    lines = []
    in_camera = False
    for line in text.splitlines():
        if line.startswith("[[cameras]]"):
            in_camera = True
        elif line.startswith("[") or line.startswith("# [") or not line.strip():
            in_camera = False if not line.startswith("[[cameras]]") else in_camera
        if in_camera and line.startswith("# ") and "=" in line:
            line = line[2:]
        lines.append(line)
    config = parse_config("\n".join(lines))
    assert [c.id for c in config.cameras] == ["corr-2"]
    assert config.cameras[0].location == "corridor"


def test_unknown_key_names_line_and_nearest_key():
    out = problems('[ppe]\nregion = "77"\ncdoe = "0123"\n')
    assert out == ["cfg.toml:3: ppe.cdoe: unknown key; did you mean 'code'?"]


def test_unknown_section_suggests():
    out = problems('[camera]\nid = "x"\n')
    assert len(out) == 1 and out[0].startswith("cfg.toml:1: camera: unknown key; did you mean 'cameras'?")


def test_wrong_type_bad_id_timezone_and_duplicate_camera():
    text = "\n".join([
        "[ppe]",
        'timezone = "Europe/Moskva"',
        "[recording]",
        "segment = 60",
        "[[cameras]]",
        'id = "corr-1"',
        'location = "corridor"',
        'url = "rtsp://admin:hunter2@192.0.2.10/s"',
        "[[cameras]]",
        'id = "../etc"',
        'location = "corridor"',
        'url = "rtsp://192.0.2.11/s"',
        "[[cameras]]",
        'id = "corr-1"',
        'location = "kitchen"',
        'url = "rtsp://192.0.2.12/s"',
    ])
    out = problems(text)
    assert "cfg.toml:2: ppe.timezone:" in out[0] and "time zone" in out[0]
    assert out[1].startswith("cfg.toml:4: recording.segment: expected a duration")
    assert out[2].startswith('cfg.toml:10: cameras[2].id: "../etc" is not valid')
    assert out[3].startswith("cfg.toml:14: cameras[3].id: duplicate id 'corr-1' (also cameras[1])")
    assert out[4].startswith('cfg.toml:15: cameras[3].location: "kitchen" is not valid (expected one of auditorium')
    assert len(out) == 5


def test_missing_required_and_secrets_masked():
    out = problems('[[cameras]]\nid = "a"\nurl = "ftp://admin:hunter2@192.0.2.1/x"\n')
    joined = "\n".join(out)
    assert "hunter2" not in joined
    assert "admin:***@" in joined
    assert "missing required key 'location'" in joined


def test_toml_syntax_error_has_line():
    out = problems('[ppe]\nregion = "77\n')
    assert out[0].startswith("cfg.toml:2: not valid TOML")


def test_exam_values_and_version_constraint():
    out = problems('[[exams]]\nid = "math"\nstart = "2026-06-01 10:00"\nduration = "3 hours"\n'
                   '[[checks.required]]\nname = "ffmpeg"\ncommand = ["ffmpeg", "-version"]\nversion = "at least 5"\n')
    assert out[0].startswith("cfg.toml:3: exams[1].start:")
    assert out[1].startswith("cfg.toml:4: exams[1].duration:")
    assert out[2].startswith("cfg.toml:8: checks.required[1].version:")


def test_cli_init_then_invalid_config_exit_2(ppe, home):
    (home / "ppe-tech.toml").unlink()
    r = ppe("init", "--region", "77", "--code", "0123")
    assert r.code == 0, r.err
    assert (home / "ppe-tech.toml").exists()
    assert ppe("init").code == 2  # exists: refuses to overwrite
    (home / "ppe-tech.toml").write_text('[ppe]\nregoin = "77"\n', encoding="utf-8")
    r = ppe("keys", "create", "--station")
    assert r.code == 2
    assert r.err_lines() == ["ppe-tech: ppe-tech.toml:2: ppe.regoin: unknown key; did you mean 'region'?"]
    assert not (home / "data" / "journal.sqlite").exists()


def test_cli_config_option_missing_file(ppe, home):
    r = ppe("--config", str(home / "nope.toml"), "keys", "list")
    assert r.code == 2 and "nope.toml does not exist" in r.err


def test_init_rejects_bad_code(ppe, home):
    (home / "ppe-tech.toml").unlink()
    r = ppe("init", "--code", "12")
    assert r.code == 2 and "ppe.code" in r.err
    assert not (home / "ppe-tech.toml").exists()


def test_a_room_with_hidden_characters_is_refused_with_its_line(tmp_path):
    """«01\u200b01» prints as 0101 in the journal and the act: the config refuses it, naming the line."""
    from ppe_tech.config import load_config
    from ppe_tech.errors import ConfigError

    path = tmp_path / "ppe-tech.toml"
    path.write_text('[[cameras]]\nid = "room-1"\nlocation = "auditorium"\nroom = "01\u200b01"\n'
                    'url = "rtsp://127.0.0.1:9/a"\n', encoding="utf-8")
    try:
        load_config(path, explicit=True)
    except ConfigError as exc:
        assert len(exc.problems) == 1 and ":4:" in exc.problems[0] and "U+200B" in exc.problems[0], exc.problems
    else:
        raise AssertionError("a room with a zero-width space was accepted")
