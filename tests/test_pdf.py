"""The printed journal: text extracted from the PDF, pages rendered to pixels."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from PIL import Image
from pypdf import PdfReader

from conftest import host_tool, HEAD, SPECIALIST, build_journal

HEADERS = ["Журнал доступа к средствам видеонаблюдения", "№ п/п", "Дата",
           "Номер аудитории ППЭ, в которой размещено средство видеонаблюдения", "Время (часы, минуты)",
           "начало действия", "окончание действия", "Осуществляемые действия",
           "Сведения о лице, осуществляющем действия (ФИО, должность, подпись)",
           "Ответственный за видеонаблюдение в ППЭ (ФИО, должность, подпись)"]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdftotext(path) -> str:
    assert shutil.which(host_tool("pdftotext")), "poppler-utils is installed by `make test`"
    return subprocess.run([host_tool("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def printed(home, ppe):
    (home / "ppe-tech.toml").write_text(
        '[ppe]\nregion = "77"\nregion_name = "г. Москва"\ncode = "0123"\nname = "ГБОУ Школа № 1"\n'
        'address = "г. Москва, ул. Примерная, д. 1"\n', encoding="utf-8")
    data = home / "data"
    long_action = "Извлечение карты памяти " + "и проверка целостности записи " * 12 + "конец"
    made = build_journal(data / "journal.sqlite", data / "keys", 40, confirm_every=20)
    from journal.journal import Journal
    with Journal.open(data / "journal.sqlite") as j:
        spec = made["specialist"]
        j.add(date="2026-06-01", room="0101", start="10:00", end="10:05", action=long_action,
              by=spec.key_id, signer=made["signers"][spec.key_id])
    r = ppe("journal", "print", "--out", home / "journal.pdf")
    assert r.code == 0, r.err
    return home / "journal.pdf", long_action


def test_text_has_headers_and_every_action(printed):
    pdf, long_action = printed
    text = squash(pdftotext(pdf))
    for header in HEADERS:
        assert squash(header) in text, header
    for n in range(1, 41):
        assert squash(f"Проверка работоспособности {n}") in text
    assert squash(long_action) in text  # long text wraps, nothing is cut
    assert squash("Субъект Российской Федерации: 77 — г. Москва") in text
    assert squash("ГБОУ Школа № 1, г. Москва, ул. Примерная, д. 1 (код ППЭ 0123)") in text
    assert squash(SPECIALIST[0]) in text and squash(HEAD[0]) in text
    assert squash("целостность подтверждена") in text
    assert squash("Контрольная точка журнала") in text


def test_pages_numbered_landscape_and_fonts_embedded(printed):
    pdf, _ = printed
    reader = PdfReader(str(pdf))
    total = len(reader.pages)
    assert total >= 2
    for number, page in enumerate(reader.pages, start=1):
        assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
        assert round(float(page.mediabox.width)) == 842  # A4
        assert squash(f"Лист {number} из {total}") in squash(page.extract_text())
    listing = subprocess.run([host_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
    fonts = listing.splitlines()[2:]
    assert fonts and all("DejaVuSansCondensed" in line for line in fonts)
    assert all(line.split()[-5] == "yes" for line in fonts)  # the "emb" column: every font is embedded


def test_one_process_prints_the_same_bytes_every_time(tmp_path):
    """The fonts are parsed once per process and shared by every document it prints: a journal
    printed after other documents is byte for byte the one printed first, its fonts embedded."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from journal import printing
    from journal.journal import Journal

    def printed(journal, out) -> bytes:
        with Journal.open(journal) as j:
            replay, problem = j.verify()
        doc = printing.build_print(replay, problem, tz=ZoneInfo("Europe/Moscow"), region="77", ppe_code="0123",
                                   name_address="ГБОУ Школа № 1", date_from=None, date_to=None,
                                   now=datetime(2026, 6, 1, 12, tzinfo=timezone.utc), stored_checkpoints=[])
        assert printing.print_pdf(doc, out) >= 1
        return out.read_bytes()
    big, small = tmp_path / "big", tmp_path / "small"
    build_journal(big / "journal.sqlite", big / "keys", 60, confirm_every=20)
    build_journal(small / "journal.sqlite", small / "keys", 3)
    first = printed(big / "journal.sqlite", tmp_path / "1.pdf")
    other = printed(small / "journal.sqlite", tmp_path / "2.pdf")
    again = printed(big / "journal.sqlite", tmp_path / "3.pdf")
    assert first == again and other != first
    fonts = {}  # read with pypdf, not pdffonts, so that this runs under Wine too
    for page in PdfReader(str(tmp_path / "3.pdf")).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for face in font.get("/DescendantFonts", [font]):
                face = face.get_object()
                fonts[str(face["/BaseFont"])] = "/FontFile2" in face["/FontDescriptor"].get_object()
    assert fonts and all("DejaVuSansCondensed" in name for name in fonts) and all(fonts.values()), fonts


def test_rendered_page_is_not_blank(printed, tmp_path):
    pdf, _ = printed
    assert shutil.which(host_tool("pdftoppm"))
    subprocess.run([host_tool("pdftoppm"), "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "p")], check=True)
    png = next(tmp_path.glob("p*.png"))
    image = Image.open(png).convert("L")
    dark = sum(1 for value in image.tobytes() if value < 128)
    assert dark > 0.01 * image.width * image.height


def test_last_page_has_qr_with_checkpoint(printed, tmp_path):
    pdf, _ = printed
    reader = PdfReader(str(pdf))
    last = squash(reader.pages[-1].extract_text())
    assert squash("QR: контрольная точка") in last
    assert squash("Хэш последней записи цепочки") in last


def test_failed_verification_is_printed(home, ppe):
    import sqlite3
    data = home / "data"
    build_journal(data / "journal.sqlite", data / "keys", 5)
    with sqlite3.connect(data / "journal.sqlite") as conn:
        conn.execute("DELETE FROM records WHERE number = 2")
    r = ppe("journal", "print", "--out", home / "j.pdf")
    assert r.code == 0 and "fails verification" in r.err
    assert squash("ВНИМАНИЕ: проверка журнала не пройдена — запись № 2") in squash(pdftotext(home / "j.pdf"))


def test_ten_thousand_entries_print(home, ppe):
    data = home / "data"
    build_journal(data / "journal.sqlite", data / "keys", 10_000, confirm_every=1000)
    r = ppe("journal", "print", "--out", home / "big.pdf")
    assert r.code == 0, r.err
    reader = PdfReader(str(home / "big.pdf"))
    total = len(reader.pages)
    assert total > 300
    text = squash(pdftotext(home / "big.pdf"))
    assert squash("Проверка работоспособности 10000") in text
    assert squash(f"Лист {total} из {total}") in text


def test_qr_code_decodes_to_a_witness(printed, tmp_path, ppe):
    """The printout's QR code, read back from pixels, verifies the journal like a checkpoint file."""
    import cv2

    pdf, _ = printed
    last = len(PdfReader(str(pdf)).pages)
    subprocess.run([host_tool("pdftoppm"), "-r", "150", "-png", "-f", str(last), "-l", str(last), str(pdf), str(tmp_path / "q")],
                   check=True)
    image = cv2.imread(str(next(tmp_path.glob("q*.png"))))
    text = ""
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        text, _points, _ = detector.detectAndDecode(image)
        if text:
            break
    assert text.startswith('{"format":"ppe-tech-checkpoint/1"')
    (tmp_path / "qr.json").write_text(text, encoding="utf-8")
    r = ppe("journal", "verify", "--checkpoint", tmp_path / "qr.json", "--json")
    assert r.code == 0 and r.json["checkpoint"]["signed"] is False
