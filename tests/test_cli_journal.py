"""The journal through the command line, end to end, on a temporary data dir."""

from __future__ import annotations

import csv
import io
import json
import stat
import sys

from conftest import HEAD, PASSPHRASE, SPECIALIST


def add(ppe, key, action, **opts):
    args = ["journal", "add", "--room", opts.pop("room", "0101"), "--action", action, "--key", key, "--json"]
    for name, value in opts.items():
        args += [f"--{name}", value]
    r = ppe(*args)
    assert r.code == 0, r.err
    return r.json["number"]


def test_known_positions_include_the_video_specialist_and_the_help_lists_them(ppe, home):
    from journal.positions import KNOWN_POSITIONS

    assert "технический специалист по видеонаблюдению" in KNOWN_POSITIONS
    for lang in ("en", "ru"):
        shown = ppe("--lang", lang, "keys", "create", "--help")
        assert shown.code == 0
        for position in KNOWN_POSITIONS:
            assert position in shown.out, (lang, position)
    r = ppe("keys", "create", "--name", "Сидоров Пётр Петрович", "--position",
            "Технический  специалист по видеонаблюдению", "--json")
    assert r.code == 0 and r.json["position"] == "Технический  специалист по видеонаблюдению"
    assert "not one of the known positions" not in r.err
    r = ppe("keys", "create", "--name", "Кузнецов Олег", "--position", "завхоз", "--json")
    assert r.code == 0 and r.json["position"] == "завхоз"  # kept as given, with a note
    assert "'завхоз' is not one of the known positions" in r.err


def test_keys_create_list_and_file_modes(ppe, people, home):
    keys_dir = home / "data" / "keys"
    if sys.platform != "win32":  # Windows: an ACL instead (tests/test_windows.py), modes mean nothing there
        assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
        for key_id in people.values():
            path = keys_dir / f"{key_id}.key"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    spec_file = json.loads((keys_dir / f"{people['specialist']}.key").read_text())
    assert spec_file["protection"]["kind"] == "scrypt-aes256gcm"
    assert PASSPHRASE not in (keys_dir / f"{people['specialist']}.key").read_text()
    station_file = json.loads((keys_dir / f"{people['station']}.key").read_text())
    assert station_file["protection"]["kind"] == "none"
    r = ppe("keys", "list", "--json")
    listed = {k["key_id"]: k for k in r.json["keys"]}
    assert set(listed) == set(people.values())
    assert listed[people["specialist"]]["name"] == SPECIALIST[0]
    assert listed[people["specialist"]]["algorithm"] == "ed25519"
    assert listed[people["station"]]["role"] == "station"
    assert all(k["private_key_here"] for k in listed.values())


def test_add_confirm_list_verify_print_export(ppe, people, home):
    spec, head, station = people["specialist"], people["head"], people["station"]
    assert add(ppe, spec, "Проверка работоспособности", start="08:00", end="08:15", date="2026-06-01") == 1
    assert add(ppe, station, "Начало записи", start="08:20", date="2026-06-01", room="Аудитории 0001–0017") == 2
    r = ppe("journal", "confirm", "--key", head[:6], "--yes", "--json")
    assert r.code == 0, r.err
    assert r.json == {"from": 1, "upto": 2, "key_id": head}
    assert add(ppe, spec, "Корректировка ракурса", start="09:40", date="2026-06-02") == 3

    entries = ppe("journal", "list", "--json").json["entries"]
    assert [e["number"] for e in entries] == [1, 2, 3]
    first = entries[0]
    assert {k: first[k] for k in ("date", "room", "start", "end", "action")} == {
        "date": "2026-06-01", "room": "0101", "start": "08:00", "end": "08:15", "action": "Проверка работоспособности"}
    assert first["actor"]["name"] == SPECIALIST[0] and first["actor"]["key_id"] == spec
    assert first["confirmed_by"]["name"] == HEAD[0]
    assert entries[1]["actor"]["station"] is True
    assert entries[2]["confirmed_by"] is None
    only_second_day = ppe("journal", "list", "--from", "2026-06-02", "--json").json["entries"]
    assert [e["number"] for e in only_second_day] == [3]

    r = ppe("journal", "verify", "--json")
    assert r.code == 0
    assert r.json["ok"] is True and r.json["entries"] == 3 and r.json["first_bad"] is None

    r = ppe("journal", "checkpoint", "--key", head, "--out", home / "cp.json")
    assert r.code == 0, r.err
    r = ppe("journal", "verify", "--checkpoint", home / "cp.json", "--json")
    assert r.code == 0 and r.json["checkpoint"]["signed"] is True

    r = ppe("journal", "print", "--out", home / "journal.pdf")
    assert r.code == 0, r.err
    assert (home / "journal.pdf").read_bytes().startswith(b"%PDF")

    r = ppe("journal", "export", "--format", "json", "--out", home / "j.json")
    assert r.code == 0
    exported = json.loads((home / "j.json").read_text(encoding="utf-8"))
    assert [e["action"] for e in exported["entries"]] == ["Проверка работоспособности", "Начало записи",
                                                          "Корректировка ракурса"]
    r = ppe("journal", "export", "--format", "csv", "--out", home / "j.csv")
    raw = (home / "j.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the file as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "№ п/п" and rows[1][5] == "Проверка работоспособности"
    assert rows[1][9] == HEAD[0] and rows[3][9] == ""


def test_csv_neutralises_formulas(ppe, people, home):
    add(ppe, people["specialist"], "=HYPERLINK(\"http://x\")")
    out = ppe("journal", "export", "--format", "csv").out
    assert "'=HYPERLINK" in out


def test_confirm_nothing_left_and_station_cannot_confirm(ppe, people):
    add(ppe, people["specialist"], "Начало записи")
    assert ppe("journal", "confirm", "--key", people["head"], "--yes").code == 0
    r = ppe("journal", "confirm", "--key", people["head"], "--yes")
    assert r.code == 2 and "nothing to confirm" in r.err
    add(ppe, people["specialist"], "Отключение средства видеозаписи")
    r = ppe("journal", "confirm", "--key", people["station"], "--yes")
    assert r.code == 2 and "station" in r.err
    r = ppe("journal", "confirm", "--key", people["head"], "--upto", "7", "--yes")
    assert r.code == 2 and "only 2 entries" in r.err


def test_revoke_keeps_earlier_entries_valid(ppe, people):
    add(ppe, people["specialist"], "Проверка работоспособности")
    r = ppe("keys", "revoke", people["specialist"], "--key", people["head"], "--reason", "ключ утерян")
    assert r.code == 0, r.err
    r = ppe("journal", "add", "--room", "0101", "--action", "x", "--key", people["specialist"])
    assert r.code == 2 and "revoked" in r.err
    assert ppe("journal", "verify").code == 0
    listed = {k["key_id"]: k for k in ppe("keys", "list", "--json").json["keys"]}
    assert listed[people["specialist"]]["revoked"] is not None


def test_export_import_public_key_between_journals(ppe, people, home, monkeypatch):
    r = ppe("keys", "export", home / "head.pub", "--key", people["head"])
    assert r.code == 0, r.err
    doc = json.loads((home / "head.pub").read_text(encoding="utf-8"))
    assert len(doc["keys"]) == 1 and "private" not in json.dumps(doc)
    assert ppe("keys", "export", home / "all.pub").code == 0
    assert len(json.loads((home / "all.pub").read_text(encoding="utf-8"))["keys"]) == 3

    monkeypatch.setenv("PPE_TECH_DATA", str(home / "other"))
    r = ppe("keys", "import", home / "head.pub", "--json")
    assert r.code == 0, r.err
    assert [k["key_id"] for k in r.json["registered"]] == [people["head"]]
    assert r.json["registered"][0]["name"] == HEAD[0]
    r = ppe("keys", "import", home / "all.pub", "--json")  # known keys are skipped, new ones registered
    assert r.code == 0 and r.json["skipped"] == [people["head"]] and len(r.json["registered"]) == 2
    assert ppe("journal", "verify").code == 0

    doc["keys"][0]["cert"]["name"] = "Сидоров С.С."
    (home / "forged.pub").write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setenv("PPE_TECH_DATA", str(home / "third"))
    r = ppe("keys", "import", home / "forged.pub")
    assert r.code == 2 and "self-signature" in r.err
    assert not (home / "third" / "journal.sqlite").exists() or ppe("keys", "list", "--json").json["keys"] == []


def test_every_command_has_help(ppe):
    from ppe_tech.cli import cli

    import click

    ctx = click.Context(cli)

    def walk(group, path):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            yield path + [name], command
            if isinstance(command, click.Group):
                yield from walk(command, path + [name])
    seen = 0
    for path, command in walk(cli, []):
        assert command.help and len(command.help.strip()) > 20, path
        r = ppe(*path, "--help")
        assert r.code == 0 and "Usage: ppe-tech " + " ".join(path) in r.out
        for param in command.params:
            if param.name != "help" and getattr(param, "param_type_name", "") == "option":
                assert param.help, (path, param.name)
        seen += 1
    assert seen >= 30


def test_version(ppe):
    from ppe_tech import __version__
    r = ppe("--version")
    assert r.code == 0 and __version__ in r.out
