"""Absurd input never crashes: whatever the config, a checkpoint file or an archive's manifest
holds, the command ends 0, 1 or 2 with its message, never an internal error or a traceback.
Bounded Hypothesis runs (a few seconds each), plus the cases the sweep found."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import PASSPHRASE

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=list(HealthCheck), derandomize=True)

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=20)


def _deep(n: int, kind: str = "json") -> str:
    return "[" * n + "]" * n if kind == "json" else "a = " + "[" * n + "]" * n + "\n"


def _ok(r) -> None:
    assert r.code in (0, 1, 2), (r.code, r.err)
    assert "internal error" not in r.err and "Traceback" not in r.err, r.err


# -- the config ------------------------------------------------------------------------------------

CONFIG_KEYS = ["[ppe]", "code = ", "region = ", "timezone = ", "[[cameras]]", "id = ", "url = ", "location = ",
               "[[exams]]", "start = ", "duration = ", "[recording]", "segment = ", "floor = ", "[checks]",
               "timeout = ", '"rtsp://u:p@h/s"', '"2026-06-01T10:00"', '"0001-01-01T00:00"', '"9999-12-31T23:59"',
               '"999999999999d"', '"3h55m"', '"corridor"', '"c1"', '"e1"', "\n", "=", "[", "]", '"', "{", "}", ","]


@FUZZ
@given(st.lists(st.sampled_from(CONFIG_KEYS), max_size=30).map("".join) | st.text(max_size=200))
def test_any_config_gives_0_1_or_2(ppe_plain, text):
    path = ppe_plain.home / "ppe-tech.toml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    for args in (["exam", "plan", "--json"], ["cameras", "list"]):
        _ok(ppe_plain(*args))


@pytest.mark.parametrize("text", [
    "\ufeff[ppe]\ncode = \"0123\"\n",                             # a BOM (Notepad)
    _deep(5000, "toml"),                                       # nesting deeper than the parser's stack
    "[recording]\nsegment = \"999999999999d\"\n",              # a duration that overflows
    "[[exams]]\nid = \"e1\"\nstart = \"0001-01-01T00:00\"\nduration = \"1h\"\n",   # year 1
    "[[exams]]\nid = \"e1\"\nstart = \"9999-12-31T23:00\"\nduration = \"3h\"\n",   # year 9999
    "[[cameras]]\nid = \"c1\\n\"\nlocation = \"corridor\"\nurl = \"rtsp://h/s\"\n",  # an id with a newline
])
def test_config_cases_the_sweep_found(ppe_plain, text):
    (ppe_plain.home / "ppe-tech.toml").write_text(text, encoding="utf-8")
    for args in (["exam", "plan"], ["exam", "status"], ["schedule", "due", "--dry-run"], ["cameras", "list"]):
        r = ppe_plain(*args)
        _ok(r)
    if text.startswith("\ufeff"):
        assert ppe_plain("cameras", "list").code == 0


def test_config_bytes_that_are_not_utf8(ppe_plain):
    (ppe_plain.home / "ppe-tech.toml").write_bytes(b"[ppe]\ncode = \"\xff\xfe\"\n")
    r = ppe_plain("cameras", "list")
    assert r.code == 2 and "UTF-8" in r.err


# -- the checkpoint --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signed_checkpoint(tmp_path_factory):
    """A journal and one good checkpoint of it (module-wide, so each example is cheap)."""
    from conftest import build_journal
    from journal.journal import Journal

    base = tmp_path_factory.mktemp("cp")
    made = build_journal(base / "data" / "journal.sqlite", base / "data" / "keys", 5)
    with Journal.open(base / "data" / "journal.sqlite") as j:
        head = made["head"]
        doc = j.checkpoint(j.state().keys[head.key_id], made["signers"][head.key_id])
    return base, doc


def _checkpoint_variants():
    fields = ["format", "journal", "records", "entries", "head", "sig", "public_key", "algorithm", "by", "ts"]
    return st.dictionaries(st.sampled_from(fields), json_values, max_size=6)


@FUZZ
@given(_checkpoint_variants(), st.booleans())
def test_any_checkpoint_file_gives_0_1_or_2(ppe_plain, signed_checkpoint, changes, keep_rest):
    base, good = signed_checkpoint
    doc = {**good, **changes} if keep_rest else changes
    path = ppe_plain.home / "cp.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _ok(ppe_plain("--data-dir", base / "data", "journal", "verify", "--checkpoint", path))


@pytest.mark.parametrize("field,value", [("sig", None), ("sig", []), ("public_key", None), ("public_key", [1]),
                                         ("algorithm", None), ("algorithm", ["ed25519"]), ("records", 1.5)])
def test_checkpoint_fields_of_the_wrong_type(ppe_plain, signed_checkpoint, field, value):
    base, good = signed_checkpoint
    path = ppe_plain.home / "cp.json"
    path.write_text(json.dumps({**good, field: value}), encoding="utf-8")
    r = ppe_plain("--data-dir", base / "data", "journal", "verify", "--checkpoint", path)
    _ok(r)
    assert r.code in (1, 2)


def test_a_tampered_checkpoint_is_a_negative_result(ppe_plain, signed_checkpoint):
    base, good = signed_checkpoint
    path = ppe_plain.home / "cp.json"
    path.write_text(json.dumps({**good, "entries": good["entries"] + 1}), encoding="utf-8")
    r = ppe_plain("--data-dir", base / "data", "journal", "verify", "--checkpoint", path)
    assert r.code == 1 and "altered" in r.err, r.err
    for raw in (_deep(100_000).encode(), b"\xff\xfe\x00", b""):
        path.write_bytes(raw)
        r = ppe_plain("--data-dir", base / "data", "journal", "verify", "--checkpoint", path)
        assert r.code == 2, r.err


# -- the archive manifest --------------------------------------------------------------------------

def _archive(folder, manifest_bytes: bytes, sums: bytes = b"") -> None:
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_bytes(manifest_bytes)
    (folder / "SHA256SUMS").write_bytes(sums)
    (folder / "manifest.sig").write_text("{}", encoding="utf-8")


file_entries = st.fixed_dictionaries({}, optional={"name": json_values | st.sampled_from(["a.ts", "../x", ".h", ""]),
                                                   "sha256": json_values | st.just("0" * 64),
                                                   "bytes": json_values | st.integers(0, 10)})


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries({"files": st.lists(file_entries | json_values, max_size=4)})),
       st.binary(max_size=80))
def test_any_manifest_gives_0_1_or_2(ppe_plain, manifest, sums):
    folder = ppe_plain.home / "arc"
    _archive(folder, json.dumps(manifest).encode(), sums)
    (folder / "a.ts").write_bytes(b"x")
    r = ppe_plain("archive", "verify", folder, "--json")
    _ok(r)
    assert r.code == 1  # never a pass: nothing here is signed by a trusted key


@pytest.mark.parametrize("manifest", [
    b'{"files": [{"name": "a.ts", "bytes": 1}]}',                      # no sha256
    b'{"files": [{"name": "a.ts", "sha256": "' + b"0" * 64 + b'"}]}',  # no bytes
    b'{"files": [{"name": ["a.ts"], "sha256": "x", "bytes": 1}]}',      # a list as name
    _deep(100_000).encode(),                                            # nesting
    b"\xff\xfe not utf-8",
])
def test_manifest_cases_the_sweep_found(ppe_plain, manifest):
    folder = ppe_plain.home / "arc"
    _archive(folder, manifest, b"\xff\xfe\n")
    r = ppe_plain("archive", "verify", folder)
    _ok(r)
    assert r.code == 1


# -- arguments -------------------------------------------------------------------------------------

@pytest.mark.parametrize("only", ["", ",,", " , "])
def test_check_run_with_no_check_chosen_is_bad_usage(ppe, only):
    r = ppe("check", "run", "--only", only, "--no-journal")
    assert r.code == 2 and "names no check" in r.err


@pytest.mark.parametrize("text", ["01\u200b01", "\u202e1010", "a\u2066b", "x\udcff", "ab\u2028cd", "\ufeff0101"])
def test_invisible_characters_in_rooms_and_actions_are_refused(ppe, people, text):
    for option in ("--room", "--action"):
        args = {"--room": "0101", "--action": "Проверка", option: text}
        r = ppe("journal", "add", *[x for kv in args.items() for x in kv], "--key", people["specialist"])
        assert r.code == 2 and "U+" in r.err and len(r.err_lines()) == 1, r.err


def test_non_utf8_passphrase_file_is_bad_input(ppe, people, home):
    bad = home / "pass.txt"
    bad.write_bytes(b"\xff\xfe\xfd\n")
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--key", people["specialist"],
            "--passphrase-file", bad)
    assert r.code == 2 and "UTF-8" in r.err


def test_overflowing_durations_are_bad_input(ppe, people):
    r = ppe("archive", "create", "--exam", "x", "--to", ".", "--margin", "999999999999d", "--key", people["specialist"])
    assert r.code == 2 and "internal error" not in r.err


@pytest.fixture
def ppe_plain(home, capsys):
    """`ppe` for Hypothesis: no function-scoped state is reset between examples, so each
    example writes what it needs; the data dir is the test's own."""
    from ppe_tech.cli import run

    class Call:
        def __init__(self):
            self.home = home

        def __call__(self, *args):
            from conftest import Result

            capsys.readouterr()
            code = run([str(a) for a in args])
            out = capsys.readouterr()
            return Result(code, out.out, out.err)
    assert PASSPHRASE
    return Call()


@pytest.mark.parametrize("text,field", [
    ('[[cameras]]\nid = "c1\\n"\nlocation = "corridor"\nurl = "rtsp://h/s"\n', "cameras[1].id"),
    ('[[exams]]\nid = "e1\\n"\nstart = "2026-06-01T10:00"\nduration = "3h55m"\n', "exams[1].id"),
    ('[[cameras]]\nid = "c1"\nlocation = "corridor"\nurl = "rtsp://h/s"\nonvif = "http://h/onvif\\n"\n',
     "cameras[1].onvif"),
])
def test_a_trailing_newline_is_not_part_of_a_valid_value(ppe_plain, text, field):
    """`$` also matches before a final newline: ids (which become systemd unit names and paths)
    and addresses are matched whole, so "c1\\n" is refused, naming the field."""
    (ppe_plain.home / "ppe-tech.toml").write_text(text, encoding="utf-8")
    r = ppe_plain("cameras", "list")
    assert r.code == 2 and field in r.err and "Traceback" not in r.err, r.err
