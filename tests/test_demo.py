"""`ppe-tech demo`: the whole exam day end to end, leaving PDFs that say what they should."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import UNDER_WINE, host_tool, shows_room


def pdf_text(path: Path) -> str:
    if UNDER_WINE:  # pdftotext is a Linux program: pypdf reads the text, its lines joined
        from pypdf import PdfReader

        return " ".join(" ".join(page.extract_text() or "" for page in PdfReader(path).pages).split())
    return subprocess.run([host_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_demo_runs_the_exam_day_and_its_results_verify(ppe, tmp_path):
    folder = tmp_path / "demo"
    r = ppe("demo", "--dir", folder, "--seconds", "12")
    assert r.code == 0, r.err[-4000:]
    pdfs = {p.name: p for p in folder.rglob("*.pdf")}
    assert {"protocol.pdf", "contact-sheet.pdf", "act.pdf", "journal.pdf"} <= set(pdfs), sorted(pdfs)
    if UNDER_WINE:  # the PostgreSQL server is a Linux program here: the regional step says it is skipped
        assert "PostgreSQL server not installed" in r.err and "region.pdf" not in pdfs, r.err[-2000:]
    else:
        region = pdf_text(pdfs["region.pdf"])  # the day's journal, pushed and verified at the regional centre
        assert "77/0123" in region and "целостность всех журналов подтверждена" in region
    for name, heading in (("protocol.pdf", "Протокол проверки рабочей станции ППЭ"),
                          ("contact-sheet.pdf", "Снимки с камер видеонаблюдения"),
                          ("act.pdf", "Акт передачи видеозаписей"),
                          ("journal.pdf", "Журнал доступа к средствам видеонаблюдения")):
        assert heading in pdf_text(pdfs[name]), name
    reports = sorted((folder / "data" / "checks" / "reports").glob("*.json"))
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in reports]
    verdicts = [d["status"] for d in docs]
    # a disk with less free space than the day's estimate (5 cameras assumed at 4 Mbit/s over the
    # recording window, ~60 GB) fails system.disk on this machine, rightly: that one is the
    # machine's, not the demo's, and is expected only when its own numbers say so
    short = [next(c for c in d["checks"] if c["id"] == "system.disk")["data"] for d in docs]
    short = [s["free"] < s["need"] for s in short]

    def not_passed(doc: dict, status: tuple = ("fail", "error")) -> list:
        return [(c["id"], c["status"]) for c in doc["checks"] if c["status"] in status]

    disk = [("system.disk", "fail")] if short[-1] else []
    protocol = pdf_text(pdfs["protocol.pdf"])
    if UNDER_WINE:  # Wine has no w32tm: the clock check cannot run, the rest is as on Windows
        titles = "; ".join(["Свободное место для видеозаписи"] * bool(disk) + ["Системное время"])
        assert f"Итог проверки: НЕ ГОТОВ: не пройдены проверки: {titles}" in protocol, protocol[-600:]
        assert not_passed(docs[1]) == disk + [("system.time", "error")], docs[1]["checks"]
        assert len(verdicts) == 2
        assert [i for i, _s in not_passed(docs[0], ("fail",))] == ["system.disk"] * short[0] + ["cameras"]
    elif disk:
        assert "Итог проверки: НЕ ГОТОВ: не пройдены проверки: Свободное место для видеозаписи" in protocol
        assert len(verdicts) == 2 and not_passed(docs[1]) == disk, docs[1]["checks"]
    else:
        assert "Итог проверки: ГОТОВ" in protocol  # the second check, after the fix
        assert len(verdicts) == 2 and verdicts[0] == "fail" and verdicts[1] in ("pass", "warn"), verdicts
    act = pdf_text(pdfs["act.pdf"])
    assert "коридор 1 этажа" in act and "вход в ППЭ" in act and not shows_room(act.split("Приложение")[0], "0101")
    base = ["--config", folder / "ppe-tech.toml", "--data-dir", folder / "data"]
    verified = ppe(*base, "journal", "verify", "--checkpoint", folder / "checkpoint.json", "--json")
    assert verified.code == 0 and verified.json["ok"]
    archive = next((folder / "usb").iterdir())
    checked = ppe(*base, "archive", "verify", archive, "--json")
    assert checked.code == 0 and checked.json["files"] == 3  # two corridors and the entrance, one run each
    entries = ppe(*base, "journal", "list", "--json").json["entries"]
    actions = [e["action"] for e in entries]
    for action in ("Проверка работоспособности", "Корректировка ракурса", "Начало записи",
                   "Отключение средства видеозаписи", "Копирование видеозаписей"):
        assert action in actions, actions
    assert actions.count("Проверка работоспособности") == 2  # failed once (0102 unplugged), then passed
    clock = [a for a in actions if a.startswith("Установка времени камер (ONVIF)")]
    # one entry; corridor 2 was 95 s ahead (the others get the ППЭ's time zone set with their clocks)
    assert len(clock) == 1, clock
    before = float(re.search(r"corr-2 ([+-]\d+,\d+) с →", clock[0]).group(1).replace(",", "."))
    assert abs(before - 95) < 1.5, clock  # a reading before the set is good to about half a second
    assert all(e["confirmed_by"] for e in entries)  # the head confirmed the day
    assert "Folder:" in r.out and str(pdfs["journal.pdf"]) in r.out
    # the cameras came into the config by ONVIF discovery (`discover --write`), then were named
    config = folder / "ppe-tech.toml"
    assert config.read_text(encoding="utf-8").count("found by `ppe-tech cameras discover`") == 5
    if sys.platform != "win32":  # it holds the cameras' password now (Windows: an ACL, tests/test_windows.py)
        assert config.stat().st_mode & 0o077 == 0
    assert "cameras edit cam-" in r.err and "demo-camera" not in r.out + r.err
    cameras = ppe(*base, "cameras", "list", "--json").json["cameras"]
    ports = [int(c["onvif"].split("@")[1].split("/")[0].rsplit(":", 1)[1]) for c in cameras]
    assert ports == sorted(ports)  # written in address order, not in the order the devices answered
    listed = {c["id"]: c for c in cameras}
    assert listed["corr-2"]["room"] == "коридор 2 этажа" and listed["corr-2"]["onvif"].startswith("http://admin:***@")
