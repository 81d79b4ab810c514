"""`ppe-tech demo`: the whole exam day in a scratch folder, run through the real commands.

Simulated cameras (two corridors, the entrance, two rooms, one of them failing; each
also an ONVIF device, one with its clock off), keys for the specialist, the head of the
exam point and the station (demo passphrases), the cameras found over ONVIF and the
clock that is off set, the exam software and its integrity baseline, a private clamd with a
local signature database, the pre-check with its protocol, recording for about a
minute, the head's confirmation, stopping, the archive and its verification, the
journal's verification and its printed form. Each step prints the command it runs, so
the demo doubles as a walkthrough.
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
from ppe_tech.clicktr import TrCommand
from ppe_tech.config import toml_string
from ppe_tech.errors import BadInput, PpeError
from ppe_tech.messages import _, ngettext
from ppe_tech.timeutil import zone

MARKER = ".ppe-tech-demo"
DEMO_TIMEZONE = "Europe/Moscow"
DEMO_PASSPHRASE = "demo-passphrase"
CAMERA_USER, CAMERA_PASSWORD = "admin", "demo-camera"  # the simulated cameras' credentials
SPECIALIST = ("Иванов Иван Иванович", "технический специалист")
HEAD = ("Петров Алексей Андреевич", "руководитель ППЭ")


class _Runner:
    def __init__(self, folder: Path):
        self.base = ["--config", str(folder / "ppe-tech.toml"), "--data-dir", str(folder / "data")]

    def __call__(self, *args: str, capture: bool = False, ok: tuple[int, ...] = (0,)) -> str:
        from ppe_tech.cli import run

        click.secho("$ ppe-tech " + " ".join(shlex.quote(a) for a in args), fg="cyan", err=True)
        out = io.StringIO()
        with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext():
            code = run(self.base + list(args))
        if code not in ok:
            raise PpeError(_("demo step failed with exit code {code}: ppe-tech {args}").format(code=code, args=" ".join(args)))
        return out.getvalue()


def _prepare(folder: Path) -> None:
    if folder.exists():
        if not (folder / MARKER).exists() and any(folder.iterdir()):
            raise BadInput(_("{folder} exists and is not a demo folder; choose another --dir").format(folder=folder))
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by ppe-tech demo\n", encoding="utf-8")


CAMERAS = [  # id, location, room, simulator spec
    ("corr-1", "corridor", "коридор 1 этажа", {}),
    ("corr-2", "corridor", "коридор 2 этажа", {"clock_skew": 95.0}),  # its clock runs 95 s ahead
    ("ent-1", "entrance", "вход в ППЭ", {}),
    ("aud-0101", "auditorium", "0101", {}),
    ("aud-0102", "auditorium", "0102", {"fault": "offline"}),  # unplugged until step 6
]


def _step(text: str) -> None:
    click.secho(text, bold=True, err=True)


def _exam_software(folder: Path) -> Path:
    station = folder / "exam-station"
    (station / "bin").mkdir(parents=True)
    (station / "bin" / "station.exe").write_bytes(b"MZ" + bytes(range(256)) * 64)
    (station / "bin" / "crypto.dll").write_bytes(b"MZ" + bytes(4000))
    (station / "config.ini").write_text("[server]\nregion=77\nppe=0123\n", encoding="utf-8")
    return station


@click.command(cls=TrCommand)
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("ppe-tech-demo"),
              show_default=True, help=_("Scratch folder; replaced if it holds an earlier demo."))
@click.option("--seconds", type=click.IntRange(5, 3600), default=60, show_default=True,
              help=_("How long the cameras record."))
@click.pass_obj
def demo(app: App, folder: Path, seconds: int) -> int:
    """Run the whole exam day on simulated cameras in a scratch folder and leave the PDFs.

    Takes about a minute and a half. Everything stays in --dir: config, keys, journal,
    recordings, the archive and the PDFs (protocol, contact sheet, act, journal, the
    region's summary).
    """
    import time
    from datetime import timedelta

    from checks import localclam
    from video import simulator

    _prepare(folder)
    folder = folder.resolve()
    ppe = _Runner(folder)
    secret = folder / "demo-passphrase.txt"
    secret.write_text(DEMO_PASSPHRASE + "\n", encoding="utf-8")
    secret.chmod(0o600)
    pf = ["--passphrase-file", str(secret)]
    tz = zone(DEMO_TIMEZONE)
    now = app.clock().astimezone(tz)
    start = (now + timedelta(hours=2, minutes=5)).replace(second=0, microsecond=0)
    start = start.replace(minute=start.minute - start.minute % 5)  # the pre-check (start - 2 h) is due now
    exam_id = f"{start:%Y-%m-%d}-math"
    daemons: list = []
    try:
        _step(_("1. Simulated cameras: two corridors, the entrance, rooms 0101 and 0102 (0102 unplugged)"))
        specs = [{"name": cid, "width": 1280, "height": 720, "user": CAMERA_USER, "password": CAMERA_PASSWORD,
                  **extra} for cid, _loc, _room, extra in CAMERAS]
        sim = simulator.Running(specs, simulator.default_cache(), folder / "simulator.json")
        daemons.append(sim)

        _step(_("2. The exam point's configuration"))
        station = _exam_software(folder)
        clam = None
        if localclam.clamd_program():
            base = folder / "clamav"
            clam = localclam.LocalClamd(base, localclam.eicar_database(base / "db"))
            daemons.append(clam)
        corridor_port = sim.url("corr-1").rpartition(":")[2].split("/")[0]
        # the cameras come in step 4, found over ONVIF and written by `cameras discover --write`
        text = (f'\n[[exams]]\nid = "{exam_id}"\nsubject = "Математика (профильный уровень)"\n'
                 f'start = "{start:%Y-%m-%dT%H:%M}"\nduration = "3h55m"\n'
                 # the demo's day is compressed: its recording window opens now, with the pre-check
                 f'record_before = "2h10m"\n'
                 f'\n[recording]\nsegment = "10s"\nfloor = "1GiB"\n'
                 f'\n[checks]\nexam_software = [{toml_string(str(station))}]\nhosts = ["127.0.0.1:{corridor_port}"]\n'
                 f'room = "Штаб ППЭ"\nprofile = "demo-station.toml"\n'
                 f'\n[[checks.required]]\nname = "ffmpeg"\ncommand = ["ffmpeg", "-version"]\nversion = ">=4.0"\n')
        if clam is not None:
            text += (f'\n[antivirus]\nengine = "clamav"\nclamd_socket = {toml_string(clam.address)}\n'
                     f'database = {toml_string(str(clam.database))}\n')
        config = ('[ppe]\nregion = "77"\nregion_name = "г. Москва"\ncode = "0123"\nname = "ГБОУ Школа № 1"\n'
                  'address = "г. Москва, ул. Примерная, д. 1"\ntimezone = "Europe/Moscow"\n' + text)
        (folder / "ppe-tech.toml").write_text(config, encoding="utf-8")
        camera_password = folder / "camera-password.txt"
        camera_password.write_text(CAMERA_PASSWORD + "\n", encoding="utf-8")
        camera_password.chmod(0o600)
        # the demo's profile: what the scratch station can show (a region writes its own the same way)
        checks = ["system.resources", "system.disk", "system.time", "software.required", "software.forbidden",
                  *(["antivirus.status", "antivirus.scan"] if clam is not None else []), "integrity.baseline",
                  "network", "cameras", "cameras.clock"]
        required = [c for c in checks if c != "system.time"]  # the scratch machine may not tell its clock's sync
        (folder / "demo-station.toml").write_text(
            'title = "Рабочая станция ППЭ (демонстрация)"\n'
            f'checks = {json.dumps(checks)}\nrequired = {json.dumps(required)}\n', encoding="utf-8")
        click.echo(_("Wrote {path} (`ppe-tech init` writes a commented one to start from).").format(
            path=folder / "ppe-tech.toml"), err=True)

        _step(_("3. Keys: the specialist, the head of the exam point, the station"))
        specialist = json.loads(ppe("keys", "create", "--name", SPECIALIST[0], "--position", SPECIALIST[1], *pf,
                                    "--json", capture=True))["key_id"]
        head = json.loads(ppe("keys", "create", "--name", HEAD[0], "--position", HEAD[1], *pf, "--json",
                              capture=True))["key_id"]
        ppe("keys", "create", "--station", "--json", capture=True)

        _step(_("4. The cameras found over ONVIF and written to the config, then named; corridor 2's clock "
                "is off and is set"))
        # asked one by one (unicast, on 127.0.0.1): the demo sends nothing onto the school's network
        addresses = [a for cid, *_rest in CAMERAS for a in ("--address", sim.onvif(cid).split("/")[2])]
        found = json.loads(ppe("cameras", "discover", *addresses, "--timeout", "2s", "--user", CAMERA_USER,
                               "--password-file", str(camera_password), "--write", "--json", capture=True))
        added = {d["address"]: d["added_as"] for d in found["devices"]}
        for cid, loc, room, _extra in CAMERAS:  # the specialist names each camera where it hangs
            ppe("cameras", "edit", added[sim.onvif(cid)], "--id", cid, "--location", loc, "--room", room)
        ppe("cameras", "clock", ok=(0, 1))
        ppe("cameras", "clock", "--set", "--key", specialist, *pf)

        _step(_("5. The integrity baseline of the exam software"))
        ppe("check", "baseline", "create")

        _step(_("6. The pre-exam check finds room 0102's camera not answering"))
        ppe("check", "run", "--exam", exam_id, "--key", specialist, *pf, ok=(0, 1))

        _step(_("7. The specialist plugs it back in, checks the picture and runs the check again"))
        sim.fault("aud-0102", "none")
        time.sleep(1.0)
        ppe("journal", "add", "--room", "0102", "--action", "Корректировка ракурса", "--start",
            app.clock().astimezone(tz).strftime("%H:%M"), "--key", specialist, *pf)
        ppe("cameras", "health", ok=(0, 1))
        ppe("cameras", "snapshot", "--out", str(folder / "snapshots"), "--pdf", str(folder / "contact-sheet.pdf"),
            ok=(0, 1))
        ppe("check", "run", "--exam", exam_id, "--key", specialist, *pf,
            "--pdf", str(folder / "protocol.pdf"), ok=(0, 1))

        _step(ngettext("8. Recording: {s} second", "8. Recording: {s} seconds", seconds).format(s=seconds))
        ppe("cameras", "start")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))
            if time.monotonic() < deadline:
                ppe("cameras", "status")
        ppe("cameras", "stop")
        ppe("recordings", "gaps", ok=(0, 1))

        _step(_("9. The archive of the corridors and the entrance, verified"))
        usb = folder / "usb"
        made = json.loads(ppe("archive", "create", "--exam", exam_id, "--to", str(usb), "--mkdir", "--key", specialist, *pf,
                              "--json", capture=True, ok=(0, 1)))
        ppe("archive", "verify", made["dir"])

        _step(_("10. The head of the exam point confirms the day (column 7) and keeps a checkpoint"))
        ppe("journal", "confirm", "--key", head, "--yes", *pf)
        cp = folder / "checkpoint.json"
        ppe("journal", "checkpoint", "--key", head, "--out", str(cp), *pf)

        _step(_("11. The journal verified, printed and exported"))
        ppe("journal", "verify", "--checkpoint", str(cp))
        ppe("journal", "print", "--out", str(folder / "journal.pdf"))
        ppe("journal", "export", "--format", "csv", "--out", str(folder / "journal.csv"))

        _step(_("12. The journal sent to the regional centre's PostgreSQL and verified there"))
        from journal import localpg
        if localpg.bin_dir() is None:
            from ppe_tech.system_packages import hint

            click.echo(_("PostgreSQL server not installed ({how}): step skipped.").format(how=hint("postgresql")), err=True)
        else:
            pg = localpg.LocalPostgres()
            daemons.append(pg)
            ppe("region", "init", "--db", pg.url)
            ppe("journal", "push", "--to", pg.url)
            ppe("journal", "push", "--to", pg.url)  # again: nothing is sent twice
            ppe("region", "verify", "--db", pg.url, "--region", "77", "--pdf", str(folder / "region.pdf"))
    finally:
        for daemon in reversed(daemons):
            daemon.stop()

    _step(_("Done. The demo left:"))
    pdfs = sorted(folder.rglob("*.pdf"))
    for path in pdfs:
        click.echo(f"  {path}")
    click.echo(_("Folder: {folder}").format(folder=folder))
    return 0
