"""A simulated ONVIF device (Profile S subset) for each simulated camera, on 127.0.0.1.

HTTP SOAP: the device service (GetSystemDateAndTime, SetSystemDateAndTime, GetNTP,
SetNTP, GetDeviceInformation, GetNetworkInterfaces, GetCapabilities, GetServices,
SystemReboot) and the media service (GetProfiles, GetVideoSources, GetStreamUri,
GetSnapshotUri, GetOSDs, SetOSD), and the JPEG at the snapshot URI (HTTP GET). Credentials are checked like a camera does:
WS-UsernameToken PasswordDigest whose `Created` must be within AUTH_WINDOW of the
device's own clock, or HTTP digest for a digest-only device. A WS-Discovery responder
answers Probes for NetworkVideoTransmitter that arrive on the loopback interface only.

Faults (`CameraSpec.onvif_faults`, and `clock_skew` in seconds): `digest_only`,
`wrong_host` (stream and media addresses name 192.168.0.64, the port doubled in the
snapshot address), `slow` (every answer `slow_seconds` late), `reset_clock` (the clock
restarts at 1970-01-01 after SystemReboot, as on a camera without a battery),
`bad_utf8` (invalid UTF-8 in the device information), `ntp` (the clock follows NTP).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import re
import socket
import struct
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from video.onvif.clock import posix_offset  # one parser of POSIX zones, for the camera and the client

HOST = "127.0.0.1"
ONVIF_FAULTS = ("digest_only", "wrong_host", "slow", "reset_clock", "bad_utf8", "ntp")
AUTH_WINDOW = 5.0  # seconds between the token's Created and the device clock that it accepts
WRONG_HOST = "192.168.0.64"
GROUP = ("239.255.255.250", 3702)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SOAP = "http://www.w3.org/2003/05/soap-envelope"
NAMESPACES = (f'xmlns:s="{SOAP}" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
              'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" '
              'xmlns:ter="http://www.onvif.org/ver10/error"')
UNAUTHENTICATED = {"GetSystemDateAndTime"}
SNAPSHOT_PATH = "/onvif/snapshot.jpg"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(el, *names):
    for name in names:
        if el is None:
            return None
        el = next((c for c in el if _local(c.tag) == name), None)
    return el


def _text(el, *names) -> str:
    found = _find(el, *names)
    return (found.text or "").strip() if found is not None else ""


def _esc(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class Osd:
    token: str
    text_type: str  # Plain | DateAndTime
    text: str = ""


@dataclass
class Device:
    """One simulated device's state and its HTTP server."""
    name: str
    user: str = ""
    password: str = ""
    rtsp_port: int = 0
    width: int = 1280
    height: int = 720
    fps: int = 15
    faults: tuple[str, ...] = ()
    clock_skew: float = 0.0
    slow_seconds: float = 8.0
    reboot_seconds: float = 1.5
    port: int = 0
    on_reboot: Callable[[float], Awaitable[None]] | None = None
    snapshot: Callable[[], bytes] | None = None  # the JPEG its snapshot URI serves (made on first request)
    offset: float = 0.0  # device clock minus real time
    tz: str = "GMT0"
    ntp: bool = False
    ntp_servers: list[str] = field(default_factory=list)
    osds: list[Osd] = field(default_factory=lambda: [Osd("osd-time", "DateAndTime"), Osd("osd-text", "Plain", "IPC")])
    server: asyncio.base_events.Server | None = None
    nonce: str = field(default_factory=lambda: os.urandom(12).hex())
    calls: list[str] = field(default_factory=list)  # operations answered, for tests
    reboots: int = 0

    def __post_init__(self) -> None:
        self.offset = float(self.clock_skew)
        self.ntp = "ntp" in self.faults
        if self.ntp:
            self.ntp_servers = ["pool.ntp.invalid"]

    @property
    def urn(self) -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'ppe-tech-sim/' + self.name)}"

    @property
    def xaddr(self) -> str:
        return f"http://{HOST}:{self.port}/onvif/device_service"

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self.offset, timezone.utc)

    async def listen(self) -> None:
        if self.server is None:
            if self.port:
                self.server = await asyncio.start_server(self.handle, HOST, self.port, reuse_address=True)
            else:
                for _ in range(200):
                    try:
                        self.server = await asyncio.start_server(self.handle, HOST, random.randrange(20000, 32000),
                                                                 reuse_address=True)
                        break
                    except OSError:
                        continue
                if self.server is None:
                    self.server = await asyncio.start_server(self.handle, HOST, 0)
            self.port = self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    # -- HTTP ------------------------------------------------------------------------------

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            headers = {}
            for line in lines[1:]:
                k, sep, v = line.partition(":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            if "slow" in self.faults:
                await asyncio.sleep(self.slow_seconds)
            if method == "GET" and path.split("?")[0] == SNAPSHOT_PATH:
                status, extra, payload, after = await self.answer_snapshot(headers)
            else:
                status, extra, payload, after = self.answer(method, path, headers, body)
            extra = {"Content-Type": "application/soap+xml; charset=utf-8", **extra}
            out = [f"HTTP/1.1 {status}", "Server: ppe-tech-onvif-simulator", "Connection: close",
                   f"Content-Length: {len(payload)}"]
            out += [f"{k}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + payload)
            await writer.drain()
            if after is not None:
                asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(after()))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError,
                ValueError):
            pass
        finally:
            writer.close()

    def answer(self, method: str, path: str, headers: dict, body: bytes):
        """(status, extra headers, body bytes, coroutine to run after answering)."""
        if method != "POST" or not path.startswith("/onvif/"):
            return "404 Not Found", {}, b"", None
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return "400 Bad Request", {}, self.fault("Sender", "ter:WellFormed", "not XML"), None
        request = _find(root, "Body")
        if request is None or len(request) == 0:
            return "400 Bad Request", {}, self.fault("Sender", "ter:WellFormed", "no Body"), None
        operation = _local(request[0].tag)
        if operation not in UNAUTHENTICATED and self.user:
            refused = self.check_auth(root, headers)
            if refused is not None:
                return refused
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            return "400 Bad Request", {}, self.fault("Receiver", "ter:ActionNotSupported",
                                                     f"{operation} is not supported"), None
        self.calls.append(operation)
        result = handler(request[0])
        after = None
        if isinstance(result, tuple):
            result, after = result
        return "200 OK", {}, self.envelope(result), after

    async def answer_snapshot(self, headers: dict):
        """GET of the snapshot URI: a JPEG of the picture, behind HTTP Basic or Digest as on a
        camera (Digest only for a digest-only device)."""
        if self.snapshot is None:
            return "404 Not Found", {}, b"", None
        if self.user and not self._http_auth_ok(headers.get("authorization", ""), "GET"):
            challenge = f'Digest realm="ppe-tech-sim", qop="auth", nonce="{self.nonce}", algorithm=MD5'
            return "401 Unauthorized", {"WWW-Authenticate": challenge}, b"", None
        picture = await asyncio.get_running_loop().run_in_executor(None, self.snapshot)
        return "200 OK", {"Content-Type": "image/jpeg"}, picture, None

    def _http_auth_ok(self, header: str, method: str) -> bool:
        if header.startswith("Basic ") and "digest_only" not in self.faults:
            try:
                return base64.b64decode(header[6:]).decode("utf-8") == f"{self.user}:{self.password}"
            except ValueError:
                return False
        return self._digest_ok(header, method)

    def check_auth(self, root, headers: dict):
        if "digest_only" in self.faults:
            if self._digest_ok(headers.get("authorization", "")):
                return None
            challenge = f'Digest realm="ppe-tech-sim", qop="auth", nonce="{self.nonce}", algorithm=MD5'
            return "401 Unauthorized", {"WWW-Authenticate": challenge}, b"", None
        token = _find(root, "Header", "Security", "UsernameToken")
        if token is None:
            return "400 Bad Request", {}, self.fault("Sender", "ter:NotAuthorized", "Sender not Authorized"), None
        created = _text(token, "Created")
        try:
            nonce = base64.b64decode(_text(token, "Nonce"))
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            return "400 Bad Request", {}, self.fault("Sender", "ter:NotAuthorized", "Sender not Authorized"), None
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()).decode()
        fresh = abs((when - self.now()).total_seconds()) <= AUTH_WINDOW
        if _text(token, "Username") != self.user or _text(token, "Password") != expected or not fresh:
            return "400 Bad Request", {}, self.fault("Sender", "ter:NotAuthorized", "Sender not Authorized"), None
        return None

    def _digest_ok(self, header: str, method: str = "POST") -> bool:
        if not header.startswith("Digest "):
            return False
        p = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', header[7:])}
        if p.get("username") != self.user or p.get("nonce") != self.nonce:
            return False

        def h(value: str) -> str:
            return hashlib.md5(value.encode()).hexdigest()
        ha1 = h(f"{self.user}:ppe-tech-sim:{self.password}")
        ha2 = h(f"{method}:{p.get('uri', '')}")
        expected = h(f"{ha1}:{self.nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p.get('qop', '')}:{ha2}")
        return p.get("response") == expected

    def envelope(self, body: str) -> bytes:
        data = f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NAMESPACES}><s:Body>{body}</s:Body></s:Envelope>'
        encoded = data.encode("utf-8")
        if "bad_utf8" in self.faults:
            encoded = encoded.replace(b"@BAD@", b"\xff\xfe")
        return encoded

    def fault(self, code: str, subcode: str, reason: str) -> bytes:
        return self.envelope(f"<s:Fault><s:Code><s:Value>s:{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
                             f"</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">{_esc(reason)}</s:Text>"
                             f"</s:Reason></s:Fault>")

    def _host(self) -> str:
        return WRONG_HOST if "wrong_host" in self.faults else HOST

    # -- device service ----------------------------------------------------------------------

    @staticmethod
    def _date_time(tag: str, when: datetime) -> str:
        return (f"<tt:{tag}><tt:Time><tt:Hour>{when.hour}</tt:Hour><tt:Minute>{when.minute}</tt:Minute>"
                f"<tt:Second>{when.second}</tt:Second></tt:Time><tt:Date><tt:Year>{when.year}</tt:Year>"
                f"<tt:Month>{when.month}</tt:Month><tt:Day>{when.day}</tt:Day></tt:Date></tt:{tag}>")

    def op_GetSystemDateAndTime(self, _req) -> str:
        now = self.now()
        local = now + timedelta(seconds=posix_offset(self.tz) or 0)
        return (f"<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                f"<tt:DateTimeType>{'NTP' if self.ntp else 'Manual'}</tt:DateTimeType>"
                f"<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>{_esc(self.tz)}</tt:TZ>"
                f"</tt:TimeZone>{self._date_time('UTCDateTime', now)}{self._date_time('LocalDateTime', local)}"
                f"</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def op_SetSystemDateAndTime(self, req) -> str:
        kind = _text(req, "DateTimeType")
        tz = _text(req, "TimeZone", "TZ")
        if tz:
            self.tz = tz
        self.ntp = kind == "NTP"
        utc = _find(req, "UTCDateTime")
        if kind == "Manual" and utc is not None:
            try:
                given = datetime(int(_text(utc, "Date", "Year")), int(_text(utc, "Date", "Month")),
                                 int(_text(utc, "Date", "Day")), int(_text(utc, "Time", "Hour")),
                                 int(_text(utc, "Time", "Minute")), int(_text(utc, "Time", "Second")),
                                 tzinfo=timezone.utc)
            except ValueError:
                return self._bad("ter:InvalidDateTime")
            self.offset = given.timestamp() - time.time()
        return "<tds:SetSystemDateAndTimeResponse/>"

    def _bad(self, subcode: str) -> str:
        return (f"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode>"
                f"</s:Code><s:Reason><s:Text xml:lang=\"en\">invalid argument</s:Text></s:Reason></s:Fault>")

    def op_GetNTP(self, _req) -> str:
        servers = "".join(f"<tt:NTPManual><tt:Type>DNS</tt:Type><tt:DNSname>{_esc(s)}</tt:DNSname></tt:NTPManual>"
                          for s in self.ntp_servers)
        return (f"<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>false</tt:FromDHCP>{servers}"
                f"</tds:NTPInformation></tds:GetNTPResponse>")

    def op_SetNTP(self, req) -> str:
        manual = _find(req, "NTPManual")
        server = _text(manual, "DNSname") or _text(manual, "IPv4Address")
        self.ntp_servers = [server] if server else []
        return "<tds:SetNTPResponse/>"

    def op_GetDeviceInformation(self, _req) -> str:
        maker = "ppe-tech@BAD@" if "bad_utf8" in self.faults else "ppe-tech"
        return (f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{maker}</tds:Manufacturer>"
                f"<tds:Model>Simulated camera</tds:Model><tds:FirmwareVersion>0.2.0</tds:FirmwareVersion>"
                f"<tds:SerialNumber>SIM-{_esc(self.name)}</tds:SerialNumber><tds:HardwareId>PPE-SIM</tds:HardwareId>"
                f"</tds:GetDeviceInformationResponse>")

    @property
    def mac(self) -> str:
        digest = hashlib.sha256(self.name.encode()).digest()
        return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))

    def op_GetNetworkInterfaces(self, _req) -> str:
        return (f'<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled>'
                f"<tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{self.mac}</tt:HwAddress><tt:MTU>1500</tt:MTU>"
                f"</tt:Info></tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>")

    def _media_xaddr(self) -> str:
        return f"http://{self._host()}:{self.port}/onvif/media_service"

    def op_GetCapabilities(self, _req) -> str:
        return (f"<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{self.xaddr}</tt:XAddr>"
                f"</tt:Device><tt:Media><tt:XAddr>{self._media_xaddr()}</tt:XAddr><tt:StreamingCapabilities>"
                f"<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true"
                f"</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities>"
                f"</tds:GetCapabilitiesResponse>")

    def op_GetServices(self, _req) -> str:
        def service(ns: str, xaddr: str) -> str:
            return (f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{xaddr}</tds:XAddr>"
                    f"<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>")
        return ("<tds:GetServicesResponse>" + service("http://www.onvif.org/ver10/device/wsdl", self.xaddr)
                + service("http://www.onvif.org/ver10/media/wsdl", self._media_xaddr())
                + "</tds:GetServicesResponse>")

    def op_SystemReboot(self, _req):
        async def reboot() -> None:
            self.reboots += 1
            self.close()
            if self.on_reboot is not None:
                await self.on_reboot(self.reboot_seconds)
            await asyncio.sleep(self.reboot_seconds)
            if "reset_clock" in self.faults:
                self.offset = EPOCH.timestamp() - time.time()  # no battery: the clock starts at 1970
                self.ntp = False
            await self.listen()
        return "<tds:SystemRebootResponse><tds:Message>Rebooting</tds:Message></tds:SystemRebootResponse>", reboot

    # -- media service -------------------------------------------------------------------------

    def op_GetVideoSources(self, _req) -> str:
        return (f'<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0"><tt:Framerate>{self.fps}</tt:Framerate>'
                f"<tt:Resolution><tt:Width>{self.width}</tt:Width><tt:Height>{self.height}</tt:Height>"
                f"</tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>")

    def op_GetProfiles(self, _req) -> str:
        return (f'<trt:GetProfilesResponse><trt:Profiles token="main" fixed="true"><tt:Name>mainStream</tt:Name>'
                f'<tt:VideoSourceConfiguration token="vsc0"><tt:Name>vsc0</tt:Name><tt:UseCount>1</tt:UseCount>'
                f"<tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x=\"0\" y=\"0\" width=\"{self.width}\" "
                f'height="{self.height}"/></tt:VideoSourceConfiguration>'
                f'<tt:VideoEncoderConfiguration token="vec0"><tt:Name>vec0</tt:Name><tt:UseCount>1</tt:UseCount>'
                f"<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{self.width}</tt:Width>"
                f"<tt:Height>{self.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
                f"<tt:RateControl><tt:FrameRateLimit>{self.fps}</tt:FrameRateLimit><tt:EncodingInterval>1"
                f"</tt:EncodingInterval><tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>"
                f"</tt:VideoEncoderConfiguration></trt:Profiles></trt:GetProfilesResponse>")

    def op_GetStreamUri(self, req) -> str:
        if _text(req, "ProfileToken") != "main":
            return self._bad("ter:NoProfile")
        uri = f"rtsp://{self._host()}:{self.rtsp_port}/stream1"
        return (f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
                f"<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
                f"</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>")

    def op_GetSnapshotUri(self, _req) -> str:
        port = f"{self.port}:{self.port}" if "wrong_host" in self.faults else str(self.port)
        return (f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://{HOST}:{port}{SNAPSHOT_PATH}</tt:Uri>"
                f"<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
                f"</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>")

    def op_GetOSDs(self, _req) -> str:
        items = ""
        for o in self.osds:
            plain = f"<tt:PlainText>{_esc(o.text)}</tt:PlainText>" if o.text_type == "Plain" else ""
            items += (f'<trt:OSDs token="{o.token}"><tt:VideoSourceConfigurationToken>vsc0'
                      f"</tt:VideoSourceConfigurationToken><tt:Type>Text</tt:Type><tt:Position><tt:Type>UpperLeft"
                      f"</tt:Type></tt:Position><tt:TextString><tt:Type>{o.text_type}</tt:Type>{plain}"
                      f"</tt:TextString></trt:OSDs>")
        return f"<trt:GetOSDsResponse>{items}</trt:GetOSDsResponse>"

    def op_SetOSD(self, req) -> str:
        osd = _find(req, "OSD")
        token = osd.get("token", "") if osd is not None else ""
        for o in self.osds:
            if o.token == token:
                o.text_type = _text(osd, "TextString", "Type") or o.text_type
                o.text = _text(osd, "TextString", "PlainText")
                return "<trt:SetOSDResponse/>"
        return self._bad("ter:NoConfig")

    def probe_match(self, relates_to: str) -> bytes:
        scopes = " ".join(["onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
                           f"onvif://www.onvif.org/name/{self.name}", "onvif://www.onvif.org/hardware/PPE-SIM"])
        return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" '
                'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
                'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
                'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
                f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID><a:RelatesTo>{_esc(relates_to)}</a:RelatesTo>"
                "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
                "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action></s:Header>"
                f"<s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{self.urn}</a:Address>"
                f"</a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>{scopes}</d:Scopes>"
                f"<d:XAddrs>{self.xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>"
                "</d:ProbeMatches></s:Body></s:Envelope>").encode()


class Responder(asyncio.DatagramProtocol):
    """Answers WS-Discovery Probes for the devices, only to senders on loopback."""

    def __init__(self, devices: list[Device], reply: socket.socket):
        self.devices, self.reply = devices, reply

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        if not addr[0].startswith("127."):
            return
        try:
            root = ET.fromstring(data)
        except ET.ParseError:
            return
        probe = _find(root, "Body", "Probe")
        if probe is None:
            return
        types = _text(probe, "Types")
        if types and "NetworkVideoTransmitter" not in types:
            return
        relates = _text(root, "Header", "MessageID")
        for device in self.devices:
            if device.server is None:
                continue  # rebooting
            try:
                self.reply.sendto(device.probe_match(relates), addr)
            except OSError:
                pass


async def start_responder(devices: list[Device]):
    """The WS-Discovery responder on 239.255.255.250:3702, joined on loopback only; None (and a
    note on stderr) where the machine will not let it join."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(GROUP)  # only datagrams sent to the group
        sock.setsockopt(socket.IPPROTO_IP, 49, 0)  # IP_MULTICAST_ALL off: only the memberships made here
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                        struct.pack("4s4s", socket.inet_aton(GROUP[0]), socket.inet_aton(HOST)))
        reply.bind((HOST, 0))
    except OSError as exc:
        sock.close()
        reply.close()
        print(f"simulator: no WS-Discovery responder: {exc}", file=sys.stderr, flush=True)
        return None
    loop = asyncio.get_running_loop()
    transport, _protocol = await loop.create_datagram_endpoint(lambda: Responder(devices, reply), sock=sock)
    return transport
