"""«Протокол проверки рабочей станции ППЭ»: a check of the station, printed and signed on paper.

Not an official form: a line under the title says it complements, not replaces, forms
ППЭ-01-01 and ППЭ-01-02. Header: the ППЭ, the exam, the profile and the stage (the
technical preparation the day before, or the check on the exam's day), when and by whom;
then every check with its verdict and message (required checks marked); the verdict
(«ГОТОВ» only when the whole profile ran and no required check failed or was skipped);
the signer's key fingerprint and the journal entry that records the run, so the paper
ties to the signed journal; room for wet signatures. Russian throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from templates.render import Column, Sheet, Table, sheet_footer, simple_header

TITLE = "Протокол проверки рабочей станции ППЭ"
NOT_A_FORM = ("Документ дополняет, но не заменяет формы ППЭ-01-01 и ППЭ-01-02: в нём результаты "
              "автоматической проверки станции.")
REQUIRED_NOTE = "* — обязательная проверка профиля: её пропуск или неуспех означает, что станция не готова."
_WIDTHS = [24, 180, 90, 447, 44]


@dataclass
class Row:
    title: str
    verdict: str
    message: str
    seconds: str


@dataclass
class Protocol:
    station: str  # the profile's title: «Рабочая станция ППЭ (Штаб, печать и сканирование)»
    stage: str  # «Техническая подготовка (накануне экзамена)» | «Проверка в день экзамена»
    region: str
    ppe: str
    exam: str
    started: str
    host: str
    who: str
    fingerprint: str
    journal_entry: str
    verdict: str
    rows: list[Row]
    notes: list[str]


_header = simple_header(["№", "Проверка", "Результат", "Сведения", "Время, с"], _WIDTHS, 20.0)


def render(protocol: Protocol, out: Path) -> int:
    sheet = Sheet()
    sheet.new_page()
    sheet.text(TITLE, size=13, bold=True, align="center")
    sheet.text(f"{protocol.station}. {protocol.stage}", size=10, align="center")
    sheet.text(NOT_A_FORM, size=8.5, align="center")
    sheet.space(4)
    for line in (f"Субъект Российской Федерации: {protocol.region}", f"ППЭ: {protocol.ppe}",
                 f"Экзамен: {protocol.exam}", f"Проверка проведена: {protocol.started}; компьютер: {protocol.host}",
                 f"Проверку провёл: {protocol.who}", f"Отпечаток ключа подписи: {protocol.fingerprint}",
                 f"Запись в журнале: {protocol.journal_entry}"):
        sheet.text(line, size=9.5)
    sheet.space(4)
    table = Table([Column(w, "center" if k in (0, 2, 4) else "left") for k, w in enumerate(_WIDTHS)],
                  header=_header, header_height=20.0)
    table.layout(sheet, [[str(i), r.title, r.verdict, r.message, r.seconds] for i, r in enumerate(protocol.rows, 1)])
    sheet.space(4)
    sheet.text(f"Итог проверки: {protocol.verdict}", size=11, bold=True)
    sheet.text(REQUIRED_NOTE, size=8.5)
    for note in protocol.notes:
        sheet.text(note, size=9)
    sheet.space(10)
    sheet.ensure(70)
    sheet.signature_lines(("Технический специалист", "Руководитель ППЭ"))
    return sheet.render(out, title=TITLE, footer=sheet_footer(sheet, f"{TITLE} · {protocol.ppe} · {protocol.started}"))
