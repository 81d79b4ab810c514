"""`ppe-tech demo`: the exam day in a scratch folder, run through the real commands.

Today it runs the journal part of the day: keys for the specialist, the head of the
exam point and the station; the day's actions; confirmation; a checkpoint; verify;
the printed form and exports. Each step prints the command it runs, so the demo
doubles as a walkthrough.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import shutil
from pathlib import Path

import click

from ppe_tech.app import App
from ppe_tech.errors import BadInput, PpeError
from ppe_tech.messages import _
from ppe_tech.timeutil import zone

MARKER = ".ppe-tech-demo"
DEMO_TIMEZONE = "Europe/Moscow"
DEMO_PASSPHRASE = "demo-passphrase"
SPECIALIST = ("Иванов Иван Иванович", "технический специалист")
HEAD = ("Петров Алексей Андреевич", "руководитель ППЭ")


class _Runner:
    def __init__(self, folder: Path):
        self.base = ["--config", str(folder / "ppe-tech.toml"), "--data-dir", str(folder / "data")]

    def __call__(self, *args: str, capture: bool = False) -> str:
        from ppe_tech.cli import run

        click.secho("$ ppe-tech " + " ".join(shlex.quote(a) for a in args), fg="cyan", err=True)
        out = io.StringIO()
        with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext():
            code = run(self.base + list(args))
        if code not in (0,):
            raise PpeError(_("demo step failed with exit code {code}: ppe-tech {args}").format(code=code, args=" ".join(args)))
        return out.getvalue()


def _prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise BadInput(_("{folder} exists and is not a demo folder; choose another --dir").format(folder=folder))
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by ppe-tech demo\n", encoding="utf-8")


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("ppe-tech-demo"),
              show_default=True, help=_("Scratch folder; replaced if it holds an earlier demo."))
@click.pass_obj
def demo(app: App, folder: Path) -> int:
    """Run the exam day on simulated equipment in a scratch folder and leave the PDFs."""
    _prepare(folder)
    ppe = _Runner(folder)
    secret = folder / "demo-passphrase.txt"
    secret.write_text(DEMO_PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    pf = ["--passphrase-file", str(secret)]
    day = app.clock().astimezone(zone(DEMO_TIMEZONE)).date()
    exam_start = f"{day.isoformat()}T10:00"

    click.secho(_("1. The exam point's configuration"), bold=True, err=True)
    ppe("init", "--path", str(folder / "ppe-tech.toml"), "--region", "77", "--region-name", "г. Москва",
        "--code", "0123", "--name", "ГБОУ Школа № 1", "--address", "г. Москва, ул. Примерная, д. 1", "--timezone", DEMO_TIMEZONE)
    with open(folder / "ppe-tech.toml", "a", encoding="utf-8") as handle:
        handle.write(f'\n[[exams]]\nid = "{day.isoformat()}-math"\nsubject = "Математика (профильный уровень)"\n'
                     f'start = "{exam_start}"\nduration = "3h55m"\n')

    click.secho(_("2. Keys: the specialist, the head of the exam point, the station"), bold=True, err=True)
    specialist = json.loads(ppe("keys", "create", "--name", SPECIALIST[0], "--position", SPECIALIST[1], *pf, "--json",
                                capture=True))["key_id"]
    head = json.loads(ppe("keys", "create", "--name", HEAD[0], "--position", HEAD[1], *pf, "--json",
                          capture=True))["key_id"]
    station = json.loads(ppe("keys", "create", "--station", "--json", capture=True))["key_id"]

    click.secho(_("3. The day's actions on the video equipment"), bold=True, err=True)
    d = ["--date", day.isoformat()]
    steps = [
        ("Аудитории 0101–0105, штаб 7777", "Проверка работоспособности", "08:00", "08:15", specialist),
        ("Аудитории 0101–0105, коридоры, вход", "Начало записи", "08:20", None, station),
        ("0103", "Корректировка ракурса", "09:40", "09:45", specialist),
        ("Аудитории 0101–0105, коридоры, вход", "Отключение средства видеозаписи", "14:10", None, station),
        ("Штаб 7777", "Копирование видеозаписей", "14:15", "14:40", specialist),
    ]
    for room, action, start, end, key in steps:
        args = ["journal", "add", "--room", room, "--action", action, "--start", start, *d, "--key", key]
        if end:
            args += ["--end", end]
        ppe(*args, *(pf if key != station else []))

    click.secho(_("4. The head of the exam point confirms (column 7) and keeps a checkpoint"), bold=True, err=True)
    ppe("journal", "confirm", "--key", head, *pf)
    cp = folder / "checkpoint.json"
    ppe("journal", "checkpoint", "--key", head, "--out", str(cp), *pf)

    click.secho(_("5. Verification, the printed form, exports"), bold=True, err=True)
    ppe("journal", "verify", "--checkpoint", str(cp))
    pdf = folder / "journal.pdf"
    ppe("journal", "print", "--out", str(pdf))
    ppe("journal", "export", "--format", "csv", "--out", str(folder / "journal.csv"))
    ppe("journal", "export", "--format", "json", "--out", str(folder / "journal.json"))

    click.secho(_("Done. The demo left:"), bold=True, err=True)
    for path in sorted(folder.iterdir()):
        if path.suffix in (".pdf", ".csv", ".json"):
            click.echo(f"  {path}")
    click.echo(_("Folder: {folder}").format(folder=folder.resolve()))
    return 0
