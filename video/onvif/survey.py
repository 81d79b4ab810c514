"""What `cameras discover` learns about each device, every device at once.

Per device: its clock first (no credentials, and it signs the tokens that follow),
then GetDeviceInformation, GetNetworkInterfaces (MAC), GetProfiles, and the main
profile's GetStreamUri and GetSnapshotUri, corrected to the address the device
answers on. A device that refuses the credentials or has none given still reports
its address and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ppe_tech.messages import M
from ppe_tech.secrets import mask_url
from video.onvif.client import Camera
from video.onvif.discovery import Match
from video.onvif.soap import Endpoint, OnvifError
from video.parallel import in_parallel


@dataclass
class Found:
    """One ONVIF device as `cameras discover` reports it (no credentials in any field)."""
    address: str  # its device service, http://host:port/path
    urn: str = ""
    name: str = ""
    manufacturer: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""
    mac: str = ""
    stream_uri: str = ""
    snapshot_uri: str = ""
    resolution: str = ""
    clock_offset_s: float | None = None
    error: str | None = None
    notes: list = field(default_factory=list)
    camera: str | None = None  # the configured camera it is, if any
    added_as: str | None = None  # the id `discover --write` gave it in the config

    @property
    def hostport(self) -> tuple[str, int]:
        parts = urlsplit(self.address)
        return parts.hostname or "", parts.port or 80

    def as_json(self) -> dict:
        return {"address": self.address, "urn": self.urn, "name": self.name, "manufacturer": self.manufacturer,
                "model": self.model, "serial": self.serial, "firmware": self.firmware, "mac": self.mac,
                "stream_uri": mask_url(self.stream_uri), "snapshot_uri": mask_url(self.snapshot_uri), "resolution": self.resolution,
                "clock_offset_s": None if self.clock_offset_s is None else round(self.clock_offset_s, 3),
                "camera": self.camera, "added_as": self.added_as, "error": self.error and mask_url(self.error),
                "notes": [mask_url(str(n)) for n in self.notes]}


def address_url(text: str) -> str:
    """`--address HOST[:PORT]` (or a full http:// URL) as a device service address."""
    value = text.strip()
    if "://" in value:
        Endpoint.parse(value)
        return value
    host, sep, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if sep and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(M("--address {value!r}: expected HOST[:PORT]", value=text))
    host = host if sep else value
    if not host or any(c in host for c in "/@ "):
        raise ValueError(M("--address {value!r}: expected HOST[:PORT]", value=text))
    return f"http://{host}{f':{port}' if sep else ''}/onvif/device_service"


def _best_xaddr(match: Match) -> str:
    """The XAddr on the address the answer came from, else the first one."""
    for xaddr in match.xaddrs:
        if urlsplit(xaddr).hostname == match.sender:
            return xaddr
    return match.xaddrs[0]


def describe(address: str, user: str, password: str, timeout: float, match: Match | None = None) -> Found:
    camera = Camera(address, user, password, timeout=timeout)
    found = Found(camera.endpoint.url, urn=match.urn if match else "", name=match.name if match else "")
    try:
        found.clock_offset_s = camera.measure_offset()
    except OnvifError as exc:
        found.error = str(exc.message)
        return found
    try:
        info = camera.information()
        found.manufacturer, found.model, found.serial, found.firmware = (info.manufacturer, info.model, info.serial,
                                                                         info.firmware)
        try:
            found.mac = camera.mac()
        except OnvifError as exc:
            if exc.kind != "fault":
                raise
        profiles = camera.profiles()
        if profiles:
            main = max(profiles, key=lambda p: p.width * p.height) if all(p.width for p in profiles) else profiles[0]
            found.resolution = f"{main.width}x{main.height}" if main.width else ""
            found.stream_uri = camera.stream_uri(main.token)
            try:
                found.snapshot_uri = camera.snapshot_uri(main.token)
            except OnvifError as exc:
                if exc.kind != "fault":
                    raise
    except OnvifError as exc:
        found.error = str(exc.message)
        if exc.kind == "refused" and not user:
            found.error = str(M("the camera wants credentials: give --user and --password-file"))
    found.notes = list(camera.notes)
    return found


def survey(matches: list[Match], addresses: list[str], user: str, password: str, timeout: float) -> list[Found]:
    """Every device found and every address given, described at once; one entry per device."""
    work = [(_best_xaddr(m), m) for m in matches] + [(a, None) for a in addresses]
    found = in_parallel(work, lambda item: describe(item[0], user, password, timeout, item[1]))
    unique: dict[tuple, Found] = {}
    for f in found:
        unique.setdefault(f.hostport, f)
    return sorted(unique.values(), key=lambda f: f.hostport)
