"""The ONVIF operations ppe-tech uses (Profile S device and media services), on one camera.

Device: GetSystemDateAndTime (no credentials), SetSystemDateAndTime, GetNTP, SetNTP,
GetDeviceInformation, GetNetworkInterfaces, GetCapabilities, SystemReboot. Media:
GetProfiles, GetStreamUri (RTP-Unicast over RTSP), GetSnapshotUri, GetOSDs, SetOSD.
Each is one bounded SOAP exchange (`soap.Session`); what cameras get wrong about their
own addresses is corrected here (`fix_uri`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit, urlunsplit

from ppe_tech.messages import M
from video.onvif.soap import DEFAULT_TIMEOUT, Endpoint, OnvifError, Session, child, children, escape, local, text

DEVICE = "http://www.onvif.org/ver10/device/wsdl"
MEDIA = "http://www.onvif.org/ver10/media/wsdl"


@dataclass
class CameraClock:
    """What a camera says about its clock, and when we asked."""
    utc: datetime | None  # the camera's UTC, whole seconds
    local: datetime | None  # its local time, naive
    timezone: str  # POSIX TZ, e.g. "MSK-3"
    ntp: bool  # DateTimeType NTP
    daylight_savings: bool
    sent: float  # station time (time.time()) when the request left
    received: float  # and when the answer came

    @property
    def offset(self) -> float | None:
        """Camera minus station, seconds: the camera truncates to the second, so its clock
        read `utc` somewhere in [utc, utc + 1) at about the middle of the exchange."""
        if self.utc is None:
            return None
        return self.utc.timestamp() + 0.5 - (self.sent + self.received) / 2


@dataclass
class DeviceInfo:
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hardware: str = ""


@dataclass
class Profile:
    token: str
    name: str
    width: int = 0
    height: int = 0
    encoding: str = ""


@dataclass
class Osd:
    token: str
    kind: str  # Text | Image
    text_type: str = ""  # Plain | Date | Time | DateAndTime
    text: str = ""
    video_source: str = ""


def fix_uri(uri: str, endpoint: Endpoint, notes: list) -> str:
    """A URI the camera gave, pointed at the host we reach it on.

    Cameras behind NAT or with a stale configuration name their internal address; some
    double the port (`host:554:554`). The scheme, port and path are kept, the host becomes
    the device service's, and each correction is noted."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc
    auth, _sep, hostport = netloc.rpartition("@")
    pieces = hostport.split(":")
    if len(pieces) > 2 and not hostport.startswith("["):  # host:554:554
        notes.append(M("the camera doubled the port in {uri}", uri=uri))
        pieces = [pieces[0], pieces[-1]]
    host = pieces[0]
    port = pieces[1] if len(pieces) > 1 else ""
    if host != endpoint.host:
        notes.append(M("the camera names its address {given} in its stream address; using {used}", given=host,
                       used=endpoint.host))
        host = endpoint.host
    netloc = (f"{auth}@" if auth else "") + host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _int(el, *names: str) -> int:
    try:
        return int(text(el, *names) or 0)
    except ValueError:
        return 0


def _datetime(el) -> datetime | None:
    if el is None or child(el, "Date") is None:
        return None
    try:
        return datetime(_int(el, "Date", "Year"), _int(el, "Date", "Month"), _int(el, "Date", "Day"),
                        _int(el, "Time", "Hour"), _int(el, "Time", "Minute"), _int(el, "Time", "Second"))
    except ValueError:
        return None


def _date_time_xml(tag: str, when: datetime) -> str:
    return (f"<tds:{tag}><tt:Date><tt:Year>{when.year}</tt:Year><tt:Month>{when.month}</tt:Month>"
            f"<tt:Day>{when.day}</tt:Day></tt:Date><tt:Time><tt:Hour>{when.hour}</tt:Hour>"
            f"<tt:Minute>{when.minute}</tt:Minute><tt:Second>{when.second}</tt:Second></tt:Time></tds:{tag}>")


@dataclass
class Camera:
    """One ONVIF camera. `url`: its device service, credentials inside or given apart."""
    url: str
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = DEFAULT_TIMEOUT
    session: Session = field(init=False)
    _media: Endpoint | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.session = Session(Endpoint.parse(self.url, self.user, self.password), timeout=self.timeout)

    @property
    def endpoint(self) -> Endpoint:
        return self.session.endpoint

    @property
    def notes(self) -> list:
        return self.session.notes

    def _device(self, operation: str, body: str, auth: bool = True):
        return self.session.call(f"{DEVICE}/{operation}", body, auth=auth, measure_clock=self.measure_offset)

    def _media_call(self, operation: str, body: str):
        return self.session.call(f"{MEDIA}/{operation}", body, endpoint=self.media_endpoint(),
                                 measure_clock=self.measure_offset)

    # -- the clock ------------------------------------------------------------------------

    def clock(self) -> CameraClock:
        """GetSystemDateAndTime, without credentials (the ONVIF core spec allows it before auth)."""
        sent = self.session.clock()
        el = self.session.call(f"{DEVICE}/GetSystemDateAndTime", "<tds:GetSystemDateAndTime/>", auth=False)
        received = self.session.clock()
        info = child(el, "SystemDateAndTime")
        if info is None:
            raise OnvifError("protocol", M("GetSystemDateAndTime: no SystemDateAndTime in the answer"))
        utc = _datetime(child(info, "UTCDateTime"))
        local_time = _datetime(child(info, "LocalDateTime"))
        tz = text(info, "TimeZone", "TZ")
        if utc is None and local_time is not None and tz in ("", "UTC0", "GMT0", "UTC", "GMT"):
            utc = local_time
        return CameraClock(utc.replace(tzinfo=timezone.utc) if utc else None, local_time, tz,
                           text(info, "DateTimeType").upper() == "NTP",
                           text(info, "DaylightSavings").lower() == "true", sent, received)

    def measure_offset(self) -> float:
        """The camera's clock offset (±0.5 s), kept for signing the tokens."""
        reading = self.clock()
        if reading.offset is None:
            raise OnvifError("protocol", M("the camera does not report its UTC time"))
        self.session.offset = reading.offset
        return reading.offset

    def precise_offset(self, budget: float = 1.6, step: float = 0.04) -> float:
        """The offset to a few hundredths of a second: read the clock every `step` until the
        second it reports changes; the change happened between two neighbouring exchanges."""
        deadline = time.monotonic() + budget
        previous = self.clock()
        if previous.utc is None:
            raise OnvifError("protocol", M("the camera does not report its UTC time"))
        while time.monotonic() < deadline:
            time.sleep(step)
            current = self.clock()
            if current.utc is None:
                break
            if current.utc != previous.utc:
                # the camera's clock passed current.utc (a whole second) after previous.sent and before current.received
                offset = current.utc.timestamp() - (previous.sent + current.received) / 2
                self.session.offset = offset
                return offset
            previous = current
        return self.measure_offset()

    def set_clock(self, utc: datetime, tz: str) -> None:
        """SetSystemDateAndTime, Manual, the given UTC (whole seconds) and POSIX zone; then the
        offset is measured again: a token signed against the old one would be refused."""
        body = (f"<tds:SetSystemDateAndTime><tds:DateTimeType>Manual</tds:DateTimeType>"
                f"<tds:DaylightSavings>false</tds:DaylightSavings>"
                f"<tds:TimeZone><tt:TZ>{escape(tz)}</tt:TZ></tds:TimeZone>{_date_time_xml('UTCDateTime', utc)}"
                f"</tds:SetSystemDateAndTime>")
        self._device("SetSystemDateAndTime", body)
        self.session.offset = None

    def set_timezone_ntp(self, tz: str) -> None:
        body = (f"<tds:SetSystemDateAndTime><tds:DateTimeType>NTP</tds:DateTimeType>"
                f"<tds:DaylightSavings>false</tds:DaylightSavings>"
                f"<tds:TimeZone><tt:TZ>{escape(tz)}</tt:TZ></tds:TimeZone></tds:SetSystemDateAndTime>")
        self._device("SetSystemDateAndTime", body)

    def ntp(self) -> list[str]:
        el = child(self._device("GetNTP", "<tds:GetNTP/>"), "NTPInformation")
        servers = []
        for item in (children(el, "NTPManual") + children(el, "NTPFromDHCP")):
            servers.append(text(item, "DNSname") or text(item, "IPv4Address") or text(item, "IPv6Address"))
        return [s for s in servers if s]

    def set_ntp(self, server: str) -> None:
        kind = "IPv4" if server.replace(".", "").isdigit() else "DNS"
        field_name = "IPv4Address" if kind == "IPv4" else "DNSname"
        body = (f"<tds:SetNTP><tds:FromDHCP>false</tds:FromDHCP><tds:NTPManual><tt:Type>{kind}</tt:Type>"
                f"<tt:{field_name}>{escape(server)}</tt:{field_name}></tds:NTPManual></tds:SetNTP>")
        self._device("SetNTP", body)

    # -- the device -------------------------------------------------------------------------

    def information(self) -> DeviceInfo:
        el = self._device("GetDeviceInformation", "<tds:GetDeviceInformation/>")
        return DeviceInfo(text(el, "Manufacturer"), text(el, "Model"), text(el, "FirmwareVersion"),
                          text(el, "SerialNumber"), text(el, "HardwareId"))

    def mac(self) -> str:
        el = self._device("GetNetworkInterfaces", "<tds:GetNetworkInterfaces/>")
        for iface in children(el, "NetworkInterfaces"):
            address = text(iface, "Info", "HwAddress")
            if address:
                return address.lower()
        return ""

    def media_endpoint(self) -> Endpoint:
        """The media service, from GetCapabilities; the device service when the camera has none."""
        if self._media is None:
            try:
                el = self._device("GetCapabilities", "<tds:GetCapabilities><tds:Category>Media</tds:Category>"
                                                     "</tds:GetCapabilities>")
                address = text(el, "Capabilities", "Media", "XAddr")
            except OnvifError as exc:
                if exc.kind != "fault":
                    raise
                address = ""
            self._media = self.endpoint.at(address)
        return self._media

    def reboot(self) -> str:
        return text(self._device("SystemReboot", "<tds:SystemReboot/>"), "Message")

    # -- media --------------------------------------------------------------------------------

    def profiles(self) -> list[Profile]:
        el = self._media_call("GetProfiles", "<trt:GetProfiles/>")
        found = []
        for p in children(el, "Profiles"):
            video = child(p, "VideoEncoderConfiguration")
            found.append(Profile(p.get("token", ""), text(p, "Name"), _int(video, "Resolution", "Width"),
                                 _int(video, "Resolution", "Height"), text(video, "Encoding")))
        return found

    def stream_uri(self, profile: str) -> str:
        body = (f"<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>"
                f"<tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
                f"<trt:ProfileToken>{escape(profile)}</trt:ProfileToken></trt:GetStreamUri>")
        return fix_uri(text(self._media_call("GetStreamUri", body), "MediaUri", "Uri"), self.endpoint, self.notes)

    def snapshot_uri(self, profile: str) -> str:
        body = f"<trt:GetSnapshotUri><trt:ProfileToken>{escape(profile)}</trt:ProfileToken></trt:GetSnapshotUri>"
        return fix_uri(text(self._media_call("GetSnapshotUri", body), "MediaUri", "Uri"), self.endpoint, self.notes)

    def osds(self) -> list[Osd]:
        el = self._media_call("GetOSDs", "<trt:GetOSDs/>")
        found = []
        for o in children(el, "OSDs"):
            string = child(o, "TextString")
            found.append(Osd(o.get("token", ""), text(o, "Type"), text(string, "Type"), text(string, "PlainText"),
                             text(o, "VideoSourceConfigurationToken")))
        return found

    def set_osd(self, osd: Osd) -> None:
        plain = f"<tt:PlainText>{escape(osd.text)}</tt:PlainText>" if osd.text_type == "Plain" else ""
        date = "<tt:DateFormat>dd.MM.yyyy</tt:DateFormat><tt:TimeFormat>HH:mm:ss</tt:TimeFormat>" \
            if osd.text_type != "Plain" else ""
        body = (f'<trt:SetOSD><trt:OSD token="{escape(osd.token)}"><tt:VideoSourceConfigurationToken>'
                f"{escape(osd.video_source)}</tt:VideoSourceConfigurationToken><tt:Type>Text</tt:Type>"
                f"<tt:Position><tt:Type>UpperLeft</tt:Type></tt:Position><tt:TextString>"
                f"<tt:Type>{escape(osd.text_type)}</tt:Type>{date}{plain}</tt:TextString></trt:OSD></trt:SetOSD>")
        self._media_call("SetOSD", body)


def for_configured(onvif_url: str, rtsp_url: str, timeout: float = DEFAULT_TIMEOUT) -> Camera:
    """The client of a configured camera: the credentials of its `onvif` address, else of its `url`
    (cameras usually have one account for both)."""
    parts = urlsplit(rtsp_url) if "://" in rtsp_url else None
    user = unquote(parts.username or "") if parts else ""
    password = unquote(parts.password or "") if parts else ""
    return Camera(onvif_url, user, password, timeout=timeout)
