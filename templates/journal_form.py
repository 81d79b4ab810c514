"""The layout of «Журнал доступа к средствам видеонаблюдения» (A4 landscape).

The official form: a header with the субъект РФ and the наименование и адрес ППЭ,
then seven columns, column 4 split into начало / окончание действия, a numbering
row, «Лист N из M» on every sheet. Columns 6 and 7 carry the digital signers and
leave room for the wet signature. The last page states the journal's checkpoint as
text and as a QR code, the verification result and the registered keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.pdfgen.canvas import Canvas

from templates.render import MM, REGULAR, Column, Sheet, Table, draw_qr_code, header_cells, sheet_footer

TITLE = "Журнал доступа к средствам видеонаблюдения"
BLANK = "_" * 60

# column widths in points: 1 №, 2 дата, 3 аудитория, 4a начало, 4b окончание, 5 действия, 6 лицо, 7 ответственный
_WIDTHS = [28, 52, 84, 46, 46, 166, 182, 182]


@dataclass
class JournalRow:
    number: int
    date: str  # dd.mm.yyyy
    room: str
    start: str
    end: str
    action: str
    actor: str  # column 6, lines separated by \n
    responsible: str  # column 7


@dataclass
class KeyLine:
    key_id: str
    holder: str
    fingerprint: str
    status: str


@dataclass
class JournalPrint:
    region: str
    ppe_name_address: str
    ppe_code: str
    rows: list[JournalRow]
    keys: list[KeyLine]
    period: str  # "" or «за период с … по …»
    printed_at: str
    checkpoint_lines: list[str]
    checkpoint_qr: dict
    verification: str
    verified: bool
    journal_id: str = ""
    signatures: list[str] = field(default_factory=lambda: ["Ответственный за видеонаблюдение в ППЭ",
                                                         "Руководитель ППЭ", "Член ГЭК"])


def _header(c: Canvas, x: float, top: float) -> float:
    w = _WIDTHS
    h1, h2, h3 = 30.0, 20.0, 11.0
    x4 = sum(w[:3])
    cells = [
        (0, 0, w[0], h1 + h2, "№ п/п"),
        (w[0], 0, w[1], h1 + h2, "Дата"),
        (w[0] + w[1], 0, w[2], h1 + h2, "Номер аудитории ППЭ, в которой размещено средство видеонаблюдения"),
        (x4, 0, w[3] + w[4], h1, "Время (часы, минуты)"),
        (x4, h1, w[3], h2, "начало действия"),
        (x4 + w[3], h1, w[4], h2, "окончание действия"),
        (x4 + w[3] + w[4], 0, w[5], h1 + h2, "Осуществляемые действия"),
        (sum(w[:6]), 0, w[6], h1 + h2, "Сведения о лице, осуществляющем действия (ФИО, должность, подпись)"),
        (sum(w[:7]), 0, w[7], h1 + h2, "Ответственный за видеонаблюдение в ППЭ (ФИО, должность, подпись)"),
    ]
    numbers = ["1", "2", "3", "4", "4", "5", "6", "7"]
    offset = 0.0
    for k, width in enumerate(w):
        cells.append((offset, h1 + h2, width, h3, numbers[k]))
        offset += width
    header_cells(c, x, top, cells)
    return h1 + h2 + h3


def render(doc: JournalPrint, out: Path) -> int:
    """Lay out and write the journal; returns the number of sheets."""
    sheet = Sheet()
    sheet.new_page()
    sheet.text(TITLE, size=13, bold=True, align="center")
    if doc.period:
        sheet.text(doc.period, size=9, align="center")
    sheet.space(2)
    sheet.text(f"Субъект Российской Федерации: {doc.region or BLANK}", size=9.5)
    sheet.text(f"Наименование и адрес ППЭ: {doc.ppe_name_address or BLANK}", size=9.5)
    sheet.space(4)
    table = Table([Column(w, "center" if k in (0, 1, 3, 4) else "left") for k, w in enumerate(_WIDTHS)],
                  header=_header, header_height=61.0)
    rows = [[str(r.number), r.date, r.room, r.start, r.end, r.action, r.actor, r.responsible] for r in doc.rows]
    if not rows:
        rows = [["", "", "", "", "", "Записей нет", "", ""]]
    table.layout(sheet, rows)
    _last_page(sheet, doc)
    footer_left = f"{TITLE} · ППЭ {doc.ppe_code or '____'} · напечатан {doc.printed_at}"
    return sheet.render(out, title=TITLE, footer=sheet_footer(sheet, footer_left))


def _last_page(sheet: Sheet, doc: JournalPrint) -> None:
    sheet.new_page()
    sheet.text("Контрольная точка журнала и результат проверки", size=12, bold=True)
    sheet.text(doc.verification, size=10, bold=not doc.verified)
    sheet.space(4)
    qr_size = 55 * MM
    text_width = sheet.width - qr_size - 10 * MM
    top = sheet.y
    for line in doc.checkpoint_lines:
        sheet.text(line, size=9, width=text_width)
    payload = json.dumps(doc.checkpoint_qr, ensure_ascii=False, separators=(",", ":"))
    x_qr = sheet.margin + sheet.width - qr_size

    def draw_qr(c: Canvas, payload=payload, top=top) -> None:
        draw_qr_code(c, payload, x_qr, top - qr_size, qr_size)
        c.setFont(REGULAR, 7)
        c.drawCentredString(x_qr + qr_size / 2, top - qr_size - 9, "QR: контрольная точка (JSON)")
    sheet.page.ops.append(draw_qr)
    sheet.y = min(sheet.y, top - qr_size - 14)
    sheet.space(6)
    sheet.text("Ключи электронной подписи, зарегистрированные в журнале", size=10, bold=True)
    key_table = Table([Column(90), Column(260), Column(300), Column(136)], header=_key_header, header_height=14.0)
    key_table.layout(sheet, [[k.key_id, k.holder, k.fingerprint, k.status] for k in doc.keys]
                     or [["", "Ключей нет", "", ""]])
    sheet.ensure(18 * len(doc.signatures) + 10)
    sheet.space(8)
    sheet.signature_lines(doc.signatures, gap=4)


def _key_header(c: Canvas, x: float, top: float) -> float:
    header_cells(c, x, top, [(0, 0, 90, 14, "Ключ"), (90, 0, 260, 14, "Владелец (ФИО, должность)"),
                             (350, 0, 300, 14, "Отпечаток открытого ключа"), (650, 0, 136, 14, "Состояние")])
    return 14.0
