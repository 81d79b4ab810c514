"""«Акт передачи видеозаписей»: the act handing over an exam's copied recordings.

No official form exists; this one follows the other ППЭ forms: who, when, what files
(camera, room, time range, gaps, size, SHA-256 short in the table and full in the
annex), the manifest's own SHA-256 and the signer's key fingerprint, so the paper
ties to the files; then room for wet signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from templates.render import Column, Sheet, Table, sheet_footer, simple_header

TITLE = "Акт передачи видеозаписей"
_WIDTHS = [24, 96, 100, 100, 106, 106, 58, 104, 92]


@dataclass
class ActFile:
    name: str
    camera: str
    room: str
    kind: str  # «коридор», «вход», «офлайн-аудитория», «онлайн-аудитория (фрагмент)»
    start: str
    end: str
    size: str
    gaps: str
    sha256: str


@dataclass
class Act:
    region: str
    ppe: str
    exam: str
    window: str
    scope: str  # what the archive holds and why (a fragment: its window and reason)
    created: str
    signer: str
    fingerprint: str
    manifest_sha256: str
    folder: str
    files: list[ActFile]
    notes: list[str]


_header = simple_header(["№", "Камера", "Помещение", "Вид записи", "Начало записи", "Окончание записи", "Размер", "Пропуски",
                         "SHA-256 (начало)"], _WIDTHS, 22.0)


def render(act: Act, out: Path) -> int:
    sheet = Sheet()
    sheet.new_page()
    sheet.text(TITLE, size=13, bold=True, align="center")
    sheet.space(2)
    for line in (f"Субъект Российской Федерации: {act.region}", f"ППЭ: {act.ppe}", f"Экзамен: {act.exam}",
                 f"Период записи: {act.window}", f"Состав: {act.scope}", f"Копия сделана: {act.created}; папка: {act.folder}",
                 f"Копию сделал и подписал электронной подписью: {act.signer}",
                 f"Отпечаток ключа: {act.fingerprint}",
                 f"SHA-256 файла manifest.json: {act.manifest_sha256}"):
        sheet.text(line, size=9.5)
    sheet.space(4)
    table = Table([Column(w, "center" if k in (0, 6) else "left") for k, w in enumerate(_WIDTHS)],
                  header=_header, header_height=22.0)
    table.layout(sheet, [[str(i), f.camera, f.room, f.kind, f.start, f.end, f.size, f.gaps, f.sha256[:16] + "…"]
                         for i, f in enumerate(act.files, start=1)] or [["", "Файлов нет", "", "", "", "", "", "", ""]])
    for note in act.notes:
        sheet.text(note, size=9, bold=True)
    sheet.space(6)
    sheet.text("Приложение: полные контрольные суммы SHA-256 (проверка: sha256sum -c SHA256SUMS)", size=10, bold=True)
    for i, f in enumerate(act.files, start=1):
        sheet.text(f"{i}. {f.name}", size=8)
        sheet.text(f"    {f.sha256}", size=8)
    sheet.space(10)
    sheet.ensure(90)
    sheet.signature_lines(("Технический специалист", "Руководитель ППЭ", "Член ГЭК"))
    return sheet.render(out, title=TITLE, footer=sheet_footer(sheet, f"{TITLE} · {act.ppe} · {act.created}"))
