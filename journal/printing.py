"""From the replayed journal to the printed form and to export files (JSON, CSV).

Dates and times are shown in the ППЭ's time zone; documents are Russian.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from journal import checkpoint
from journal.chain import Problem, Replay
from journal.model import Entry, KeyInfo, State
from templates import journal_form

PROBLEMS_RU = {
    "edited": "запись изменена", "removed": "запись удалена", "inserted": "вставлена или изменена запись перед этой",
    "reordered": "порядок записей нарушен", "signature": "электронная подпись недействительна",
    "unknown_key": "подпись неизвестным ключом", "revoked_key": "подпись отозванным ключом",
    "truncated": "журнал усечён по сравнению с контрольной точкой",
    "rewritten": "журнал переписан по сравнению с контрольной точкой",
    "time": "время записей идёт назад", "format": "повреждённая запись",
}


def local(ts: str, tz: ZoneInfo, fmt: str = "%d.%m.%Y %H:%M") -> str:
    # %Y is written as four digits whatever the C library does with years before 1000
    # (glibc prints year 1 as "1": «01.01.1»)
    return _four_digit_years(datetime.fromisoformat(ts).astimezone(tz), fmt) if ts else ""


def ru_date(iso: str) -> str:
    return _four_digit_years(date.fromisoformat(iso), "%d.%m.%Y")


def _four_digit_years(when: date, fmt: str) -> str:
    return when.strftime(fmt.replace("%Y", f"{when.year:04d}"))


def select(entries: list[Entry], date_from: date | None, date_to: date | None) -> list[Entry]:
    """The entries dated within the bounds, compared as dates (never as strings); an entry
    whose date cannot be read is kept, never silently left out."""
    def within(entry: Entry) -> bool:
        try:
            day = date.fromisoformat(entry.date)
        except (TypeError, ValueError):
            return True
        return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)
    return [e for e in entries if within(e)]


def _signer_cell(key: KeyInfo | None, key_id: str, ts: str, tz: ZoneInfo, *, wet: bool) -> str:
    if key is None:
        return f"неизвестный ключ {key_id}"
    if key.is_station:
        return f"{key.name} (автоматически)\nЭП станции {key_id} · {local(ts, tz)}"
    text = f"{key.name}, {key.position}\nЭП {key_id} · {local(ts, tz)}"
    return text + ("\nПодпись: ______________" if wet else "")


def verification_text(state: State, problem: Problem | None) -> str:
    confirmed = state.confirmed_upto
    if problem is None:
        return (f"Проверка журнала: целостность подтверждена. Записей: {len(state.entries)}, "
                f"подтверждено ответственным: {confirmed}.")
    where = f"запись № {problem.first_bad}" if problem.first_bad else "журнал"
    return f"ВНИМАНИЕ: проверка журнала не пройдена — {where}: {PROBLEMS_RU.get(problem.code, problem.code)}."


def build_print(replay: Replay, problem: Problem | None, *, tz: ZoneInfo, region: str, ppe_code: str,
                name_address: str, date_from: date | None, date_to: date | None, now: datetime,
                stored_checkpoints: list[dict]) -> journal_form.JournalPrint:
    state = replay.state
    keys = state.keys
    rows = []
    for e in select(state.entries, date_from, date_to):
        c = e.confirmation
        responsible = (_signer_cell(keys.get(c.key_id), c.key_id, c.ts, tz, wet=True) if c
                       else "не подтверждено\nПодпись: ______________")
        rows.append(journal_form.JournalRow(
            e.number, ru_date(e.date), e.room, e.start, e.end or "—", e.action,
            _signer_cell(keys.get(e.key_id), e.key_id, e.ts, tz, wet=True), responsible))
    period = ""
    if date_from or date_to:
        period = "за период" + (f" с {date_from:%d.%m.%Y}" if date_from else "") + (f" по {date_to:%d.%m.%Y}" if date_to else "")
    head = state.head()
    last_cp = stored_checkpoints[-1] if stored_checkpoints else None
    lines = [
        f"Идентификатор журнала: {head.journal_id or '—'}",
        f"ППЭ: субъект {head.region or '—'}, код {head.ppe or '—'}",
        f"Записей в цепочке: {head.records}; записей журнала: {head.entries}; "
        f"подтверждено ответственным: {state.confirmed_upto}",
        f"Хэш последней записи цепочки (SHA-256): {head.hash or '—'}",
        f"Время последней записи: {local(head.ts, tz) or '—'}",
        ("Последняя подписанная контрольная точка: "
         + (f"{local(last_cp.get('ts', ''), tz)}, {last_cp.get('name', '')}, ключ {last_cp.get('by', '')}, "
            f"записей в цепочке: {last_cp['records']}" if last_cp else "не создавалась")),
        "Сверка: ppe-tech journal verify --checkpoint <файл контрольной точки или текст QR-кода>",
    ]
    key_lines = [journal_form.KeyLine(k.key_id, f"{k.name}, {k.position}" + (" (станция)" if k.is_station else ""),
                                      k.fingerprint.replace("SHA256:", "SHA-256: "),
                                      f"отозван {local(k.revoked_ts, tz)}" if k.revoked_ts else
                                      f"действует с {local(k.created, tz)}")
                 for k in keys.values()]
    return journal_form.JournalPrint(
        region=region, ppe_name_address=name_address, ppe_code=ppe_code, rows=rows, keys=key_lines,
        period=period, printed_at=now.astimezone(tz).strftime("%d.%m.%Y %H:%M"),
        checkpoint_lines=lines, checkpoint_qr=checkpoint.statement(head),
        verification=verification_text(state, problem), verified=problem is None, journal_id=head.journal_id)


def print_pdf(doc: journal_form.JournalPrint, out: Path) -> int:
    return journal_form.render(doc, out)


def export_json(state: State, entries: list[Entry]) -> dict:
    return {"journal": state.journal_id, "region": state.region, "ppe": state.ppe,
            "head": checkpoint.statement(state.head()),
            "keys": [k.as_json() for k in state.keys.values()],
            "entries": [e.as_json(state.keys) for e in entries]}


CSV_HEADER = ["№ п/п", "Дата", "Номер аудитории", "Время начала", "Время окончания", "Осуществляемые действия",
              "Лицо: ФИО", "Лицо: должность", "Лицо: ключ", "Ответственный: ФИО", "Ответственный: должность",
              "Ответственный: ключ", "Записано (UTC)"]


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # a leading = + - @ would make a spreadsheet run the cell as a formula
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export_csv(state: State, entries: list[Entry], delimiter: str = ";") -> str:
    """UTF-8 CSV with BOM-less text; the caller writes it as utf-8-sig for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        actor = state.keys.get(e.key_id)
        c = e.confirmation
        confirmer = state.keys.get(c.key_id) if c else None
        writer.writerow([_cell(v) for v in (
            e.number, ru_date(e.date), e.room, e.start, e.end or "", e.action,
            actor.name if actor else "", actor.position if actor else "", e.key_id,
            confirmer.name if confirmer else "", confirmer.position if confirmer else "", c.key_id if c else "",
            e.ts)])
    return out.getvalue()
