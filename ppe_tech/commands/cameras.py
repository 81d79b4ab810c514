"""`ppe-tech cameras`: the surveillance cameras: list, probe, health, snapshot, simulate."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ppe_tech.app import App, atomic_output, emit, write_output
from ppe_tech.clicktr import TrGroup
from ppe_tech.config import Camera
from ppe_tech.errors import BadInput, EnvironmentFailure, ExitCode
from ppe_tech.messages import N_, _, seconds_text
from ppe_tech.options import OUTPUT_FILE, json_option
from ppe_tech.paths import safe_component
from ppe_tech.secrets import mask_url
from ppe_tech.timeutil import parse_duration

camera_ids = click.argument("camera_ids", nargs=-1, metavar="[CAMERA]...")


def select(app: App, ids: tuple[str, ...]) -> list[Camera]:
    """The cameras named (all when none is), in config order; an unknown id is bad input."""
    cameras = app.require_config().cameras
    if not cameras:
        raise BadInput(_("no cameras configured: add [[cameras]] blocks to {config}").format(
            config=app.config.source or "ppe-tech.toml"))
    known = {c.id: c for c in cameras}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise BadInput(_("unknown camera {id!r} (configured: {known})").format(id=unknown[0], known=", ".join(known)))
    return [known[i] for i in dict.fromkeys(ids)] if ids else list(cameras)


def _seconds(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds <= 0:
        raise click.BadParameter(_("must be above zero"))
    return seconds


def _status_line(name: str, status: str, detail: str = "", width: int = 60) -> str:
    dots = "." * max(3, width - len(name) - len(status))
    return f"{name}{dots}{status}" + (f"  {detail}" if detail else "")


def _describe(width, height, fps, codec) -> str:
    parts = [codec or ""]
    if width and height:
        parts.append(f"{width}x{height}")
    if fps:
        parts.append(_("{fps:g} fps").format(fps=fps))
    return " ".join(p for p in parts if p)


@click.group(cls=TrGroup)
def cameras() -> None:
    """The surveillance cameras of the exam point.

    \b
    Every command takes camera ids (none = all configured cameras):
      ppe-tech cameras probe                  reachable? codec, size, fps
      ppe-tech cameras health corr-1 room-2   black, frozen, blurred, covered, offline?
      ppe-tech cameras snapshot --out snaps --pdf snaps.pdf
    """


@cameras.command("list")
@json_option
@click.pass_obj
def list_cameras(app: App, as_json: bool) -> int:
    """The configured cameras (passwords masked)."""
    items = [{"id": c.id, "location": c.location, "room": c.room, "url": mask_url(c.url),
              "onvif": mask_url(c.onvif) if c.onvif else None, "resolution": c.resolution or None,
              "fps": c.fps or None} for c in app.require_config().cameras]

    def human() -> None:
        if not items:
            click.echo(_("No cameras configured."))
        for c in items:
            click.echo(f"{c['id']:<16} {c['location']:<11} {c['room']:<24} {c['url']}")
    emit(as_json, {"cameras": items}, human)
    return 0


@cameras.command("probe")
@camera_ids
@click.option("--timeout", callback=_seconds, default="5s", show_default=True, metavar="DURATION",
              help=_("Hard limit per camera, even for one that accepts and never answers."))
@json_option
@click.pass_obj
def probe(app: App, camera_ids: tuple[str, ...], timeout: float, as_json: bool) -> int:
    """Ask each camera what it streams: reachable or not, codec, resolution, fps.

    Exit 0 when every camera answered, 1 when any did not.
    """
    from video.health import in_parallel
    from video.health import probe as probe_one

    chosen = select(app, camera_ids)
    results = in_parallel(chosen, lambda c: probe_one(c.id, c.url, timeout_s=timeout))

    def human() -> None:
        for r in results:
            if r.reachable:
                click.echo(_status_line(r.camera, _("ok"), f"{_describe(r.width, r.height, r.fps, r.codec)} "
                                                           f"({seconds_text(r.seconds)})"))
            else:
                click.echo(_status_line(r.camera, _("UNREACHABLE"), _(r.error) if r.error else ""))
    emit(as_json, {"cameras": [r.as_json() for r in results]}, human)
    return ExitCode.OK if all(r.reachable for r in results) else ExitCode.NEGATIVE


def _thresholds(app: App):
    from video.health import Thresholds

    h = app.config.health
    return Thresholds(black_mean=h.black_mean, covered_fraction=h.covered_fraction, frozen_diff=h.frozen_diff,
                      blur_variance=h.blur_variance, fps_tolerance=h.fps_tolerance)


def check_health(app: App, chosen: list[Camera], seconds: float | None, snapshots: Path | None = None):
    """Sample every chosen camera at once and classify; returns Verdicts in config order."""
    from video import health

    h = app.config.health
    stamp = app.now_local().strftime("%Y%m%d-%H%M%S")
    thresholds = _thresholds(app)

    def one(camera: Camera):
        snap = snapshots / f"{safe_component(camera.id)}_{stamp}.jpg" if snapshots else None
        sample = health.sample(camera.id, camera.url, seconds=seconds or h.sample.total_seconds(),
                               timeout_s=h.timeout.total_seconds(), snapshot=snap)
        return health.classify(sample, thresholds, camera.expected_size, camera.fps or None)
    return health.in_parallel(chosen, one)


PROBLEM_LABELS = {"offline": N_("OFFLINE"), "unauthorized": N_("UNAUTHORIZED"), "black": N_("BLACK"),
                  "covered": N_("COVERED"), "frozen": N_("FROZEN"), "blurred": N_("BLURRED"),
                  "resolution": N_("RESOLUTION"), "fps": N_("FPS")}


def _health_lines(verdicts) -> None:
    for v in verdicts:
        s = v.sample
        if v.healthy:
            click.echo(_status_line(v.camera, _("ok"), _describe(s.width, s.height, s.fps, s.codec)))
        else:
            detail = _(s.error) if s.error else _describe(s.width, s.height, s.fps, s.codec)
            click.echo(_status_line(v.camera, ", ".join(_(PROBLEM_LABELS.get(p, p)) for p in v.problems), detail))


@cameras.command("health")
@camera_ids
@click.option("--seconds", callback=_seconds, metavar="DURATION",
              help=_("How long to watch each camera [default: health.sample, 3s]."))
@json_option
@click.pass_obj
def health_cmd(app: App, camera_ids: tuple[str, ...], seconds: float | None, as_json: bool) -> int:
    """Watch each camera for a few seconds (all at once) and judge the picture.

    Problems: offline, unauthorized, black, covered, frozen, blurred, resolution, fps
    (thresholds in [health]). Exit 0 when every camera is healthy, 1 otherwise.
    """
    verdicts = check_health(app, select(app, camera_ids), seconds)
    emit(as_json, {"cameras": [v.as_json() for v in verdicts]}, lambda: _health_lines(verdicts))
    return ExitCode.OK if all(v.healthy for v in verdicts) else ExitCode.NEGATIVE


@cameras.command("snapshot")
@camera_ids
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("snapshots"),
              show_default=True, help=_("Folder for the JPEG files (created if missing)."))
@click.option("--pdf", type=OUTPUT_FILE, help=_("Also write a contact sheet PDF."))
@json_option
@click.pass_obj
def snapshot(app: App, camera_ids: tuple[str, ...], out_dir: Path, pdf: Path | None, as_json: bool) -> int:
    """A JPEG from each camera, with the verdict of the image check; --pdf adds a contact sheet.

    Exit 0 when every camera gave a picture and is healthy, 1 otherwise.
    """
    from templates import contact_sheet

    chosen = select(app, camera_ids)
    if pdf is not None and pdf.suffix.lower() != ".pdf":
        raise BadInput(_("--pdf {out}: expected a .pdf file name").format(out=pdf))
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(_("--out {dir} is a file, expected a folder").format(dir=out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = app.now_local()
    verdicts = check_health(app, chosen, None, snapshots=out_dir)
    if pdf is not None:
        ppe = app.config.ppe
        by_id = {c.id: c for c in chosen}
        tiles = [contact_sheet.Tile(v.camera, by_id[v.camera].room, by_id[v.camera].location,
                                    taken.strftime("%d.%m.%Y %H:%M"), contact_sheet.verdict_ru(v.problems),
                                    v.healthy, v.sample.snapshot) for v in verdicts]
        header = ", ".join(x for x in (f"ППЭ {ppe.code}" if ppe.code else "", ppe.name, ppe.address) if x)
        with atomic_output(pdf) as tmp:
            contact_sheet.render(tiles, tmp, header=header or "ППЭ", subtitle="",
                                 printed_at=datetime.now(app.tz).strftime("%d.%m.%Y %H:%M"))

    def human() -> None:
        _health_lines(verdicts)
        for v in verdicts:
            if v.sample.snapshot:
                click.echo(f"  {v.sample.snapshot}")
        if pdf is not None:
            click.echo(_("Contact sheet: {pdf}").format(pdf=pdf))
    emit(as_json, {"cameras": [v.as_json() for v in verdicts], "pdf": str(pdf) if pdf else None}, human)
    ok = all(v.healthy and v.sample.snapshot for v in verdicts)
    return ExitCode.OK if ok else ExitCode.NEGATIVE


SIMULATOR_PORT_BASE = 18554  # camera N: RTSP on base + 2(N-1), ONVIF on the port after it


@cameras.command("simulate")
@click.option("--count", type=click.IntRange(1, 64), default=4, show_default=True, help=_("How many cameras."))
@click.option("--size", type=click.Choice(["720p", "1080p"]), default="720p", show_default=True,
              help=_("Picture size."))
@click.option("--fault", "faults", multiple=True, metavar="N=FAULT",
              help=_("Camera N (1-based) shows a fault: black, frozen, blurred, covered, offline, silent, stall; "
                     "ONVIF: skew (an hour behind), digest_only, wrong_host, slow, reset_clock."))
@click.option("--write-config", type=OUTPUT_FILE,
              help=_("Write a whole ppe-tech.toml for these cameras: [ppe], [[cameras]] with url and onvif, "
                     "[recording], an example [[exams]] (refuses to overwrite)."))
@click.option("--port-base", type=click.IntRange(1024, 65000), default=SIMULATOR_PORT_BASE, show_default=True,
              help=_("Camera N serves RTSP on PORT-BASE + 2(N-1) and ONVIF on the next port: the same ports "
                     "every time, so a written config keeps working after a restart."))
@click.pass_obj
def simulate(app: App, count: int, size: str, faults: tuple[str, ...], write_config: Path | None,
             port_base: int) -> int:
    """Serve simulated RTSP cameras on 127.0.0.1 until Ctrl-C (training and tests).

    \b
    Example: four cameras, the third frozen, and a config that uses them
      ppe-tech cameras simulate --count 4 --fault 3=frozen --write-config sim.toml
      ppe-tech --config sim.toml cameras health          (in another terminal)
    """
    import asyncio

    from video import simulator

    width, height = (1920, 1080) if size == "1080p" else (1280, 720)
    if port_base + 2 * count > 65535:
        raise BadInput(_("--port-base {base}: {count} cameras need ports up to {last}; choose a lower one").format(
            base=port_base, count=count, last=port_base + 2 * count - 1))
    specs = [simulator.CameraSpec(f"cam-{n}", width, height, port=port_base + 2 * (n - 1),
                                  onvif_port=port_base + 2 * (n - 1) + 1) for n in range(1, count + 1)]
    for item in faults:
        number, _sep, fault = item.partition("=")
        if not number.isdigit() or not 1 <= int(number) <= count:
            raise BadInput(_("--fault {item}: expected N=FAULT with N from 1 to {count}").format(item=item, count=count))
        spec = specs[int(number) - 1]
        if fault in simulator.PICTURE_FAULTS:
            spec.picture = fault
        elif fault in simulator.LINK_FAULTS:
            spec.fault = fault
        elif fault == "skew":
            spec.clock_skew = -3600.0
        elif fault in simulator.onvif_device.ONVIF_FAULTS:
            spec.onvif_faults.append(fault)
        else:
            raise BadInput(_("--fault {item}: unknown fault {fault!r}").format(item=item, fault=fault))
    if write_config is not None and write_config.exists():
        raise BadInput(_("{path} exists; choose another --write-config").format(path=write_config))
    for spec in specs:
        for port in (spec.port, spec.onvif_port):
            if not simulator.port_free(port):
                raise EnvironmentFailure(_("port {port} on 127.0.0.1 is taken (another program, or a simulator "
                                           "still running): stop it, or give another --port-base").format(port=port))

    def ready(report: dict) -> None:
        for name, cam in report["cameras"].items():
            click.echo(f"{name:<8} {cam['url']}  {cam.get('onvif', '')}")
        if write_config is not None:
            text = simulated_config(report["cameras"], width, height, app.clock().astimezone(app.tz).date())
            write_output(write_config, text.encode("utf-8"), mode=0o600)
            click.echo(_("Wrote {path}.").format(path=write_config))
        click.echo(_("Serving; Ctrl-C stops."), err=True)
    try:
        asyncio.run(simulator.serve(specs, simulator.default_cache(), ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # a port taken between the look and the listen
        raise EnvironmentFailure(_("the simulator could not listen: {error} (give another --port-base)").format(
            error=exc.strerror or exc)) from None
    return 0


def simulated_config(cameras: dict[str, dict], width: int, height: int, today) -> str:
    """A whole ppe-tech.toml for the simulated cameras: init's commented file ([ppe] filled in,
    [recording] and the rest), a [[cameras]] block per camera with url and onvif, an example exam."""
    from datetime import timedelta

    from ppe_tech.config import parse_config, render_init

    text = render_init({"region": "77", "region_name": "", "code": "0123", "name": "Имитация ППЭ (cameras simulate)",
                        "address": "127.0.0.1", "timezone": "Europe/Moscow"})
    places = [("auditorium", None), ("corridor", "коридор 1 этажа"), ("entrance", "вход")]
    blocks = []
    for i, (name, cam) in enumerate(cameras.items()):
        location, room = places[i % 3]
        blocks.append(f'[[cameras]]\nid = "{name}"\nlocation = "{location}"\nroom = "{room or f"01{i + 1:02d}"}"\n'
                      f'url = "{cam["url"]}"\n' + (f'onvif = "{cam["onvif"]}"\n' if cam.get("onvif") else "")
                      + f'resolution = "{width}x{height}"\nfps = 15\n')
    day = today + timedelta(days=1)
    exam = (f'# an example exam, tomorrow: change it to the real one\n[[exams]]\nid = "{day}-example"\n'
            f'subject = "Пример (cameras simulate)"\nstart = "{day}T10:00"\nduration = "3h55m"\n')
    text = text.rstrip("\n") + "\n\n# the simulated cameras (ppe-tech cameras simulate)\n" + "\n".join(blocks) + "\n" + exam
    parse_config(text, "simulated")  # what is written must load
    return text

