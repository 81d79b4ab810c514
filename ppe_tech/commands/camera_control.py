"""`ppe-tech cameras discover|edit|clock|reboot|osd`: camera control over ONVIF (video/onvif)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import click

from ppe_tech.app import App, emit, journal_action, load_signer
from ppe_tech.commands.cameras import _seconds, _status_line, camera_ids, select
from ppe_tech.commands.recording import cameras, journal_key_option
from ppe_tech.config import LOCATIONS, Camera
from ppe_tech.errors import BadInput, ExitCode
from ppe_tech.messages import _, seconds_text
from ppe_tech.options import json_option, passphrase_file_option, key_file_option
from ppe_tech.secrets import read_passphrase_file

CLOCK_ACTION = "Установка времени камер (ONVIF)"
REBOOT_ACTION = "Перезагрузка средства видеонаблюдения (ONVIF)"
OSD_ACTION = "Настройка надписи на изображении камер (ONVIF)"


def onvif_client(app: App, camera: Camera):
    """The ONVIF client of a configured camera: credentials from `onvif`, else from `url`."""
    from video.onvif.client import for_configured

    return for_configured(camera.onvif, camera.url, app.config.onvif.timeout.total_seconds())


def onvif_cameras(app: App, ids: tuple[str, ...]) -> list[Camera]:
    chosen = select(app, ids)
    without = [c.id for c in chosen if not c.onvif]
    if ids and without:
        raise BadInput(_("camera {id!r} has no onvif address in {config} (add onvif = \"http://…/onvif/device_service\")")
                       .format(id=without[0], config=app.config.source or "ppe-tech.toml"))
    chosen = [c for c in chosen if c.onvif]
    if not chosen:
        raise BadInput(_("no camera has an onvif address in {config}: run `ppe-tech cameras discover --write`")
                       .format(config=app.config.source or "ppe-tech.toml"))
    return chosen


def _signed(value: float | None) -> str:
    return "—" if value is None else seconds_text(value, "+.2f")


def _user_password(user: str | None, password_file: Path | None) -> tuple[str, str]:
    if password_file is not None and not user:
        raise BadInput(_("--password-file needs --user"))
    return user or "", read_passphrase_file(password_file) if password_file is not None else ""


# -- discover -------------------------------------------------------------------------------

def _configured(app: App) -> dict[tuple[str, int], str]:
    """host:port of every configured camera's onvif and RTSP address -> its id."""
    known = {}
    for c in app.config.cameras:
        for url, default in ((c.onvif, 80), (c.url, 554)):
            if url and "://" in url:
                parts = urlsplit(url)
                try:
                    known.setdefault((parts.hostname or "", parts.port or default), c.id)
                except ValueError:
                    continue
    return known


def _with_credentials(url: str, user: str, password: str) -> str:
    if not user or not url:
        return url
    parts = urlsplit(url)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return parts._replace(netloc=f"{auth}@{parts.netloc.rpartition('@')[2]}").geturl()


def _address_order(found) -> tuple:
    import ipaddress

    host, port = found.hostport
    try:
        return (0, int(ipaddress.ip_address(host)), port)
    except ValueError:
        return (1, host, port)


def _new_id(found, taken: set[str]) -> str:
    base = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "-") else "-" for ch in found.name.lower())
    base = base.strip("-")[:40]
    if not base:
        base = "cam-" + (found.mac.replace(":", "")[-6:] if found.mac else str(len(taken) + 1))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


@cameras.command("discover")
@click.option("--interface", "interfaces", multiple=True, metavar="ADDR",
              help=_("Probe only on the interface with this IPv4 address (repeatable) [default: every interface]."))
@click.option("--address", "addresses", multiple=True, metavar="HOST[:PORT]",
              help=_("Also ask this device directly (multicast does not cross subnets; repeatable)."))
@click.option("--timeout", callback=_seconds, default="3s", show_default=True, metavar="DURATION",
              help=_("How long to wait for answers to the probe."))
@click.option("--user", metavar="USER", help=_("ONVIF and RTSP user of the cameras."))
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help=_("File holding the cameras' password (with --user)."))
@click.option("--write", is_flag=True, help=_("Add the devices not yet configured to the config as [[cameras]]."))
@json_option
@click.pass_obj
def discover(app: App, interfaces: tuple[str, ...], addresses: tuple[str, ...], timeout: float, user: str | None,
             password_file: Path | None, write: bool, as_json: bool) -> int:
    """Find ONVIF cameras (WS-Discovery), with their stream addresses and clocks.

    \b
    Each device: maker, model, serial, MAC, main stream and snapshot addresses,
    clock offset, and the configured camera it already is. --write adds the others
    to the config with url and onvif (ids and rooms are yours to edit after).
    Exit 0 when devices were found, 1 when none answered.
    """
    import ipaddress
    import socket

    from video.onvif import discovery, survey

    user_name, password = _user_password(user, password_file)
    if write and app.config_path is not None and not app.config_path.exists():
        from ppe_tech.config import Config

        app._config = Config(source=app.config_path)  # --write starts the file
    chosen = []
    for address in interfaces:
        try:
            if ipaddress.ip_address(address).version != 4:
                raise ValueError
        except ValueError:
            raise BadInput(_("--interface {value!r}: expected an IPv4 address of this machine").format(value=address)) from None
        chosen.append(address)
    direct = []
    for address in addresses:
        try:
            direct.append(survey.address_url(address))
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    matches = []
    if chosen or not direct:
        try:
            matches = discovery.probe(chosen or discovery.interface_addresses(), timeout)
        except OSError as exc:
            if isinstance(exc, socket.gaierror) or exc.errno in (99,):  # EADDRNOTAVAIL: not an address of ours
                raise BadInput(_("--interface: {error} (expected an address of this machine)").format(
                    error=exc.strerror or exc)) from None
            raise
    found = survey.survey(matches, direct, user_name, password, app.config.onvif.timeout.total_seconds())
    known = _configured(app)
    for f in found:
        f.camera = known.get(f.hostport)
        if f.camera is None and f.stream_uri:
            parts = urlsplit(f.stream_uri)
            f.camera = known.get((parts.hostname or "", parts.port or 554))
    added = []
    if write:
        added = _write(app, [f for f in found if f.camera is None and f.stream_uri], user_name, password)

    def human() -> None:
        if not found:
            click.echo(_("No ONVIF device answered."))
        for f in (d.as_json() for d in found):  # masked: a camera may put credentials in its URIs
            what = " ".join(x for x in (f["manufacturer"], f["model"]) if x) or "?"
            status = f["camera"] or (_("new") if not f["error"] else _("ERROR"))
            if f["added_as"]:
                status = _("added as {id}").format(id=f["added_as"])
            click.echo(_status_line(f["address"], status, f"{what}  {_('clock')} {_signed(f['clock_offset_s'])}"))
            if f["stream_uri"]:
                click.echo(f"  {f['stream_uri']}")
            if f["error"]:
                click.echo(f"  {f['error']}")
            for note in f["notes"]:
                click.echo(f"  {_('note')}: {note}")
        if write:
            click.echo(_("Added to {config}: {ids}").format(config=app.config_path, ids=", ".join(added) or "—"))
    emit(as_json, {"devices": [f.as_json() for f in found], "added": added}, human)
    return ExitCode.OK if found else ExitCode.NEGATIVE


def _write(app: App, new, user: str, password: str) -> list[str]:
    from ppe_tech.config_edit import add_cameras

    if not new:
        return []
    taken = {c.id for c in app.config.cameras}
    blocks, comments, ids = [], [], []
    stamp = app.now_local().strftime("%Y-%m-%d %H:%M")
    for f in sorted(new, key=_address_order):  # by address, whatever order the devices answered in
        camera_id = f.added_as = _new_id(f, taken)
        ids.append(camera_id)
        block = {"id": camera_id, "location": "auditorium", "room": "",
                 "url": _with_credentials(f.stream_uri, user, password),
                 "onvif": _with_credentials(f.address, user, password)}
        if f.resolution:
            block["resolution"] = f.resolution
        blocks.append(block)
        what = " ".join(x for x in (f.manufacturer, f.model, f.serial, f.mac) if x)
        comments.append(f"found by `ppe-tech cameras discover` {stamp}: {what}; set location and room")
    add_cameras(app.config_path, blocks, comments)
    return ids


@cameras.command("edit")
@click.argument("camera_id", metavar="CAMERA")
@click.option("--id", "new_id", metavar="ID", help=_("New id ([a-z0-9-]; before the camera has recordings)."))
@click.option("--location", type=click.Choice(LOCATIONS), help=_("Where the camera looks."))
@click.option("--room", metavar="TEXT", help=_("Room number or place, as printed in the journal."))
@json_option
@click.pass_obj
def edit(app: App, camera_id: str, new_id: str | None, location: str | None, room: str | None, as_json: bool) -> int:
    """Name a camera in the config: its id, location and room (after `cameras discover --write`).

    \b
    The file keeps its comments and layout; the result is checked like any config
    before it replaces the file. Example:
      ppe-tech cameras edit cam-1 --id aud-0101 --location auditorium --room 0101
    """
    from ppe_tech.config_edit import edit_camera
    from video import segments

    select(app, (camera_id,))  # no config, or an unknown camera, is bad input naming what is known
    changes = {k: v for k, v in (("id", new_id), ("location", location), ("room", room)) if v is not None}
    if not changes:
        raise BadInput(_("nothing to change: give --id, --location or --room"))
    if new_id is not None and new_id != camera_id and segments.files(app.recordings_dir, camera_id):
        raise BadInput(_("{camera} has recordings in {dir} under its id; renaming it would part them from the "
                         "camera (archive and gaps go by id): keep the id").format(camera=camera_id,
                                                                                 dir=app.recordings_dir))
    assert app.config_path is not None
    edit_camera(app.config_path, camera_id, changes)

    def human() -> None:
        click.echo(_("{config}: {camera} updated: {changes}").format(
            config=app.config_path, camera=camera_id, changes=", ".join(f"{k} = {v!r}" for k, v in changes.items())))
    emit(as_json, {"camera": camera_id, "changed": changes}, human)
    return ExitCode.OK


# -- clock ----------------------------------------------------------------------------------

def _max_offset(app: App, value: float | None) -> float:
    return value if value is not None else app.config.checks.camera_clock_max_offset.total_seconds()


def _clock_lines(reports, max_offset: float) -> None:
    for r in reports:
        if r.error:
            click.echo(_status_line(r.id, _("ERROR"), r.error))
            continue
        status = _("ok") if r.ok else _("OFF")
        detail = _("offset {offset}").format(offset=_signed(r.offset_s))
        if r.set:
            detail = _("set: {before} -> {after}").format(before=_signed(r.offset_before_s), after=_signed(r.offset_s))
        detail += f", {r.timezone or '?'}, {r.local_time or '?'}" + (", NTP" if r.ntp else "")
        click.echo(_status_line(r.id, status, detail))
        for note in r.notes:
            click.echo(f"  {_('note')}: {note}")
    if any(not r.ok for r in reports):
        click.echo(_("Limit: {s:g} s.").format(s=max_offset), err=True)


@cameras.command("clock")
@camera_ids
@click.option("--set", "do_set", is_flag=True, help=_("Set the clocks that are off (UTC and the ППЭ's zone), "
                                                      "verify them and journal it."))
@click.option("--max-offset", callback=_seconds, metavar="DURATION",
              help=_("Largest offset that is fine [default: checks.camera_clock_max_offset, 2s]."))
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def clock(app: App, camera_ids: tuple[str, ...], do_set: bool, max_offset: float | None, key_ref: str | None,
          passphrase_file: Path | None, as_json: bool) -> int:
    """Each ONVIF camera's clock against this station's: offset, time zone, local time.

    Reading needs no credentials. With --set, the cameras that are off are set on a
    second boundary (a camera on NTP is pointed at [onvif] ntp_server when set), then
    measured again; one journal entry names them with the offsets before and after.
    Exit 0 when every camera is within --max-offset, 1 otherwise.
    """
    from video.onvif import clock as camera_clock
    from video.parallel import in_parallel

    chosen = onvif_cameras(app, camera_ids)
    limit = _max_offset(app, max_offset)
    signer = None
    if do_set and (key_ref or app.key_file):
        signer = load_signer(app, key_ref, passphrase_file)  # a wrong passphrase stops before any camera is touched
    tz = camera_clock.posix_tz(app.config.ppe.timezone)
    if do_set:
        ntp_server = app.config.onvif.ntp_server
        reports = in_parallel(chosen, lambda c: camera_clock.set_clock(c.id, onvif_client(app, c), tz, limit,
                                                                         ntp_server=ntp_server))
    else:
        reports = in_parallel(chosen, lambda c: camera_clock.read(c.id, onvif_client(app, c), limit, tz))
    number = None
    changed = [r for r in reports if r.set]
    if changed:
        rooms = {c.id: c.room or c.id for c in chosen}
        parts = [f"{r.id} {_ru_offset(r.offset_before_s)} → {_ru_offset(r.offset_s)}" for r in changed]
        action = _fit(f"{CLOCK_ACTION}: ", parts)
        number = journal_action(app, action, _fit("", list(dict.fromkeys(rooms[r.id] for r in changed)), 200),
                                key_ref, passphrase_file, signer=signer)

    _keep_reading(app, [r.as_json() for r in reports], limit)

    def human() -> None:
        _clock_lines(reports, limit)
        if number is not None:
            click.echo(_("Journal entry {n}.").format(n=number))
    emit(as_json, {"cameras": [r.as_json() for r in reports], "max_offset_s": limit, "journal_entry": number}, human)
    return ExitCode.OK if all(r.ok for r in reports) else ExitCode.NEGATIVE


CLOCKS = "clocks.json"  # the last reading of the cameras' clocks, for `exam plan` and `exam status`


def _keep_reading(app: App, cameras: list[dict], limit: float) -> None:
    from ppe_tech.app import write_output

    doc = {"at": app.clock().isoformat(), "max_offset_s": limit, "cameras": cameras}
    (app.data_dir / "cameras").mkdir(parents=True, exist_ok=True)
    write_output(app.data_dir / "cameras" / CLOCKS, json.dumps(doc, ensure_ascii=False).encode("utf-8"))


def clock_reading(app: App) -> dict | None:
    """The newest reading of the cameras' clocks: by `cameras clock` or the pre-check's
    `cameras.clock`: {"at", "by", "max_offset_s", "off": [ids], "unreachable": [ids]}."""
    from ppe_tech.commands.check import kept_reports

    found = []
    try:
        doc = json.loads((app.data_dir / "cameras" / CLOCKS).read_text(encoding="utf-8"))
        found.append((doc["at"], "cameras clock", doc))
    except (OSError, ValueError, KeyError):
        pass
    for report in reversed(kept_reports(app)):
        try:
            full = json.loads(Path(report["path"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        check = next((c for c in full.get("checks", []) if c.get("id") == "cameras.clock" and c.get("data")), None)
        if check:
            found.append((report["started"], "check run", check["data"]))
            break
    if not found:
        return None
    # reports keep whole seconds: within one second the check run is taken as the newer
    at, by, doc = max(found, key=lambda item: (datetime.fromisoformat(item[0]).replace(microsecond=0),
                                               item[1] == "check run"))
    cams = doc.get("cameras") or []
    return {"at": at, "by": by, "max_offset_s": doc.get("max_offset_s"),
            "off": [c["id"] for c in cams if not c.get("error") and not c.get("ok")],
            "unreachable": [c["id"] for c in cams if c.get("error")]}


def _ru_offset(value: float | None) -> str:
    return "?" if value is None else f"{value:+.2f} с".replace(".", ",")


def _fit(head: str, parts: list[str], limit: int = 500) -> str:
    """`head` + parts joined, cut to `limit` characters with how many were left out."""
    text = head + "; ".join(parts)
    shown = len(parts)
    while len(text) > limit and shown > 1:
        shown -= 1
        text = head + "; ".join(parts[:shown]) + f"; и ещё {len(parts) - shown}"
    return text[:limit]


# -- reboot ---------------------------------------------------------------------------------

def _reboot_one(app: App, camera: Camera, wait: float, limit: float) -> dict:
    from video.onvif import clock as camera_clock
    from video.onvif.soap import OnvifError

    client = onvif_client(app, camera)
    result = {"id": camera.id, "rebooted": False, "back": False, "seconds": None, "offset_s": None,
              "clock_ok": False, "error": None}
    started = time.monotonic()
    try:
        client.reboot()
    except OnvifError as exc:
        result["error"] = str(exc.message)
        return result
    result["rebooted"] = True
    deadline = started + wait
    went_down = False
    while time.monotonic() < deadline:  # first it goes away (at most 20 s), then it comes back
        time.sleep(0.3)
        try:
            client.clock()
            if went_down or time.monotonic() - started > 20:
                break
        except OnvifError:
            went_down = True
    report = camera_clock.read(camera.id, client, limit)
    if report.error is not None:
        result["error"] = _("did not answer within {s:g} s after the reboot").format(s=wait)
        return result
    result.update(back=True, seconds=round(time.monotonic() - started, 1), offset_s=report.as_json()["offset_s"],
                  clock_ok=report.ok, notes=[str(n) for n in report.notes])
    if report.reset:
        result["error"] = _("its clock was reset by the reboot ({local}; no battery?): run `ppe-tech cameras clock "
                            "--set {id}`").format(local=report.local_time or "1970", id=camera.id)
    elif not report.ok:
        result["error"] = _("its clock is off by {offset} after the reboot: run `ppe-tech cameras clock --set {id}`").format(
            offset=_signed(report.offset_s), id=camera.id)
    return result


@cameras.command("reboot")
@click.argument("camera_ids", nargs=-1, required=True, metavar="CAMERA...")
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def reboot(app: App, camera_ids: tuple[str, ...], key_ref: str | None, passphrase_file: Path | None,
           as_json: bool) -> int:
    """Reboot cameras over ONVIF, wait until they answer again, then check their clocks.

    A camera without a battery comes back in 1970: that is reported. One journal entry.
    Exit 0 when every camera came back with its clock right, 1 otherwise.
    """
    from video.parallel import in_parallel

    chosen = onvif_cameras(app, camera_ids)
    signer = None
    if key_ref or app.key_file:
        signer = load_signer(app, key_ref, passphrase_file)
    limit = app.config.checks.camera_clock_max_offset.total_seconds()
    wait = app.config.onvif.reboot_wait.total_seconds()
    began = app.clock()
    results = in_parallel(chosen, lambda c: _reboot_one(app, c, wait, limit))
    number = None
    done = [r for r in results if r["rebooted"]]
    if done:
        rooms = {c.id: c.room or c.id for c in chosen}
        action = _fit(f"{REBOOT_ACTION}: ", [r["id"] + ("" if r["back"] else " (не ответила)") for r in done])
        number = journal_action(app, action, _fit("", list(dict.fromkeys(rooms[r["id"]] for r in done)), 200),
                                key_ref, passphrase_file, signer=signer, start=began)

    def human() -> None:
        for r in results:
            status = _("ok") if r["back"] and r["clock_ok"] else _("PROBLEM")
            detail = _("back after {s} s, clock {offset}").format(s=r["seconds"], offset=_signed(r["offset_s"])) \
                if r["back"] else ""
            click.echo(_status_line(r["id"], status, detail))
            if r["error"]:
                click.echo(f"  {r['error']}")
        if number is not None:
            click.echo(_("Journal entry {n}.").format(n=number))
    emit(as_json, {"cameras": results, "journal_entry": number}, human)
    return ExitCode.OK if all(r["back"] and r["clock_ok"] for r in results) else ExitCode.NEGATIVE


# -- osd ------------------------------------------------------------------------------------

def _osd_one(app: App, camera: Camera, do_set: bool) -> dict:
    from video.onvif.client import Osd
    from video.onvif.soap import OnvifError

    ppe = app.config.ppe
    wanted = " ".join(x for x in (ppe.region, ppe.code, camera.room or camera.id) if x)
    result = {"id": camera.id, "date_time": False, "text": None, "wanted": wanted, "ok": False, "set": False,
              "error": None}
    client = onvif_client(app, camera)
    try:
        osds = client.osds()
        texts = [o for o in osds if o.kind in ("Text", "")]
        clock_osd = next((o for o in texts if o.text_type in ("DateAndTime", "Date", "Time")), None)
        plain = next((o for o in texts if o.text_type == "Plain"), None)
        result["date_time"] = clock_osd is not None and clock_osd.text_type == "DateAndTime"
        result["text"] = plain.text if plain else None
        result["ok"] = result["date_time"] and result["text"] == wanted
        if do_set and not result["ok"]:
            if not result["date_time"]:
                target = clock_osd or next((o for o in texts if o is not plain), None)
                if target is None:
                    raise OnvifError("fault", _("the camera has no text overlay for date and time to set"))
                client.set_osd(Osd(target.token, "Text", "DateAndTime", "", target.video_source))
            if plain is None:
                raise OnvifError("fault", _("the camera has no plain-text overlay to set"))
            if plain.text != wanted:
                client.set_osd(Osd(plain.token, "Text", "Plain", wanted, plain.video_source))
            result["set"] = True
            after = client.osds()
            result["date_time"] = any(o.text_type == "DateAndTime" for o in after)
            result["text"] = next((o.text for o in after if o.text_type == "Plain"), None)
            result["ok"] = result["date_time"] and result["text"] == wanted
    except OnvifError as exc:
        result["error"] = str(exc.message)
    return result


@cameras.command("osd")
@camera_ids
@click.option("--set", "do_set", is_flag=True, help=_("Set date and time and the text where they are missing."))
@journal_key_option
@key_file_option
@passphrase_file_option
@json_option
@click.pass_obj
def osd(app: App, camera_ids: tuple[str, ...], do_set: bool, key_ref: str | None, passphrase_file: Path | None,
        as_json: bool) -> int:
    """Check that each picture carries date and time and «<region> <ППЭ> <room>» (GetOSDs); --set sets them.

    Exit 0 when every camera's overlay is right, 1 otherwise.
    """
    from video.parallel import in_parallel

    chosen = onvif_cameras(app, camera_ids)
    signer = load_signer(app, key_ref, passphrase_file) if do_set and (key_ref or app.key_file) else None  # asked before any camera
    results = in_parallel(chosen, lambda c: _osd_one(app, c, do_set))
    number = None
    changed = [r for r in results if r["set"]]
    if changed:
        rooms = {c.id: c.room or c.id for c in chosen}
        number = journal_action(app, _fit(f"{OSD_ACTION}: ", [r["id"] for r in changed]),
                                _fit("", list(dict.fromkeys(rooms[r["id"]] for r in changed)), 200), key_ref,
                                passphrase_file, signer=signer)

    def human() -> None:
        for r in results:
            if r["error"]:
                click.echo(_status_line(r["id"], _("ERROR"), r["error"]))
                continue
            detail = _("date and time: {dt}; text: {text!r}").format(dt=_("yes") if r["date_time"] else _("no"),
                                                                    text=r["text"] or "")
            click.echo(_status_line(r["id"], "ok" if r["ok"] else _("WRONG"), detail))
        if number is not None:
            click.echo(_("Journal entry {n}.").format(n=number))
    emit(as_json, {"cameras": results, "journal_entry": number}, human)
    return ExitCode.OK if all(r["ok"] for r in results) else ExitCode.NEGATIVE

