"""«Сводка проверки журналов»: every ППЭ's access journal in the region's database, as
verified by `region verify`, for the commission (ГЭК) and the regional centre (РЦОИ).

One row per ППЭ: its code, records and entries, the share confirmed by the responsible
person (column 7 of the form), the last checkpoint the region holds, and the result
with the first problem found. A summary and room for signatures follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from templates.render import Column, Sheet, Table, sheet_footer, simple_header

TITLE = "Сводка проверки журналов доступа к средствам видеонаблюдения"
SUBTITLE = "Журналы ППЭ в базе данных регионального центра обработки информации"
_WIDTHS = [24, 70, 60, 60, 70, 150, 351]


@dataclass
class Row:
    ppe: str
    records: str
    entries: str
    confirmed: str
    checkpoint: str
    problems: str


@dataclass
class Summary:
    region: str
    made: str
    rows: list[Row]
    verdict: str


_header = simple_header(["№", "Код ППЭ", "Записей в цепочке", "Записей журнала", "Подтверждено",
                         "Последняя контрольная точка", "Результат проверки"], _WIDTHS, 28.0)


def _local(ts: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(ts).astimezone(tz).strftime("%d.%m.%Y %H:%M") if ts else "нет"


def build(reports: list, region: str | None, now: datetime, tz: ZoneInfo) -> Summary:
    """`reports`: journal.region.ChainReport, with problem messages already in Russian."""
    rows = []
    for r in reports:
        last = r.checkpoint
        mark = f"{_local(last['ts'], tz)}, записей: {last['records']}" if last else "нет"
        if r.ok:
            result = "целостность подтверждена"
        else:
            result = "НАРУШЕНА ЦЕЛОСТНОСТЬ: " + "; ".join(
                (f"запись № {p.first_bad}: " if p.first_bad else "") + p.message for p in r.problems)
        rows.append(Row(f"{r.region}/{r.ppe}", str(r.records), str(r.entries),
                        f"{r.confirmed} ({round(100 * r.confirmed_share)} %)", mark, result))
    failing = sum(1 for r in reports if not r.ok)
    if not reports:
        verdict = "Журналы не найдены."
    elif failing:
        verdict = f"Проверено ППЭ: {len(reports)}; целостность нарушена: {failing}."
    else:
        verdict = f"Проверено ППЭ: {len(reports)}; целостность всех журналов подтверждена."
    return Summary(region or "все субъекты", now.astimezone(tz).strftime("%d.%m.%Y %H:%M"), rows, verdict)


def render(summary: Summary, out: Path) -> int:
    sheet = Sheet()
    sheet.new_page()
    sheet.text(TITLE, size=13, bold=True, align="center")
    sheet.text(SUBTITLE, size=10, align="center")
    sheet.space(4)
    sheet.text(f"Субъект Российской Федерации: {summary.region}", size=9.5)
    sheet.text(f"Проверка проведена: {summary.made}", size=9.5)
    sheet.space(4)
    table = Table([Column(w, "left" if k in (5, 6) else "center") for k, w in enumerate(_WIDTHS)],
                  header=_header, header_height=28.0)
    table.layout(sheet, [[str(i), r.ppe, r.records, r.entries, r.confirmed, r.checkpoint, r.problems]
                         for i, r in enumerate(summary.rows, 1)])
    sheet.space(4)
    sheet.text(f"Итог: {summary.verdict}", size=11, bold=True)
    sheet.space(10)
    sheet.ensure(50)
    sheet.signature_lines(("Член ГЭК", "Руководитель РЦОИ"))
    return sheet.render(out, title=TITLE, footer=sheet_footer(sheet, f"{TITLE} · {summary.region} · {summary.made}"))
