"""SOAP over HTTP for ONVIF: one bounded exchange, WS-UsernameToken and HTTP digest.

Every call has a deadline (default 5 s) that covers connecting, sending and reading
the whole answer, so a camera that accepts and then trickles or never answers costs
at most that. Authentication follows what cameras do in the field:

- WS-UsernameToken with PasswordDigest, its `Created` taken from the *camera's*
  clock (station time + the offset measured by an unauthenticated
  GetSystemDateAndTime), because cameras refuse tokens a few seconds off their clock;
  a NotAuthorized fault makes the client measure the clock again and retry once.
- HTTP digest (RFC 7616: MD5, MD5-sess, SHA-256; qop auth) when the camera answers
  401 with a Digest challenge (digest-only cameras), remembered for later calls;
  HTTP Basic likewise.

Answers are parsed by local name (camera firmwares vary in prefixes and namespaces);
a document with a DTD is refused, invalid UTF-8 is replaced and noted.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import unquote, urlsplit

from ppe_tech.messages import M

DEFAULT_TIMEOUT = 5.0
MAX_ANSWER = 2 * 2**20
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"


class OnvifError(Exception):
    """A call that did not succeed. `kind`: timeout | unreachable | refused (credentials) |
    fault (the camera said no) | protocol (an answer that is not ONVIF)."""

    def __init__(self, kind: str, message, *, fault: str = ""):
        super().__init__(str(message))
        self.kind, self.message, self.fault = kind, message, fault


@dataclass
class Endpoint:
    """A camera's device service: `http://user:password@host:port/onvif/device_service`."""
    scheme: str
    host: str
    port: int
    path: str
    user: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str, user: str = "", password: str = "") -> "Endpoint":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(M("{url!r} is not an ONVIF address (expected http://[user:password@]host[:port]/path)",
                               url=url))
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(M("{url!r} has an invalid port", url=url)) from None
        return cls(parts.scheme, parts.hostname, port, parts.path or "/onvif/device_service",
                   unquote(parts.username or "") or user, unquote(parts.password or "") or password)

    @property
    def url(self) -> str:
        """The address without credentials."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{'' if self.port == default else f':{self.port}'}{self.path}"

    def at(self, url: str) -> "Endpoint":
        """Another service of the same camera (a media XAddr), at the host we reach the camera on:
        cameras often name their internal address or a doubled port in their XAddrs."""
        path = urlsplit(url).path if url else ""
        return Endpoint(self.scheme, self.host, self.port, path or self.path, self.user, self.password)


# -- XML helpers ------------------------------------------------------------------------------

def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child(el: ET.Element | None, *names: str) -> ET.Element | None:
    """The first descendant path by local names: child(el, "UTCDateTime", "Time", "Hour")."""
    for name in names:
        if el is None:
            return None
        el = next((c for c in el if local(c.tag) == name), None)
    return el


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == name] if el is not None else []


def text(el: ET.Element | None, *names: str, default: str = "") -> str:
    found = child(el, *names) if names else el
    return (found.text or "").strip() if found is not None and found.text is not None else default


def escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def parse_xml(data: bytes) -> tuple[ET.Element, bool]:
    """The document's root, and whether invalid UTF-8 had to be replaced."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise OnvifError("protocol", M("the answer carries a DTD, which SOAP forbids"))
    replaced = False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("utf-8", errors="replace").encode("utf-8")
        data = re.sub(rb"encoding=[\"'][^\"']*[\"']", b'encoding="utf-8"', data, count=1)
        replaced = True
    try:
        return ET.fromstring(data), replaced
    except ET.ParseError as exc:
        raise OnvifError("protocol", M("the answer is not XML: {error}", error=str(exc))) from None


# -- HTTP -------------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def post(endpoint: Endpoint, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """One HTTP/1.1 POST, `Connection: close`, over within `timeout` seconds in all, or OnvifError."""
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        return left

    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    head = [f"POST {endpoint.path} HTTP/1.1", f"Host: {host}:{endpoint.port}", "Connection: close",
            f"Content-Length: {len(body)}", "User-Agent: ppe-tech"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
    data = b""
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=remaining())
        try:
            if endpoint.scheme == "https":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE  # cameras carry self-signed certificates
                sock = context.wrap_socket(sock, server_hostname=endpoint.host)
            sock.settimeout(remaining())
            sock.sendall(request)
            length = None
            while True:
                sock.settimeout(remaining())
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_ANSWER:
                    raise OnvifError("protocol", M("the answer is larger than {n} MiB", n=MAX_ANSWER // 2**20))
                end = data.find(b"\r\n\r\n")
                if end >= 0 and length is None:
                    m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", data[:end])
                    length = int(m.group(1)) if m else -1
                if end >= 0 and length is not None and length >= 0 and len(data) >= end + 4 + length:
                    break
        finally:
            sock.close()
    except socket.timeout:
        raise OnvifError("timeout", M("no answer within {s:g} s", s=timeout)) from None
    except ConnectionRefusedError:
        raise OnvifError("unreachable", M("connection refused")) from None
    except OSError as exc:
        raise OnvifError("unreachable", M("cannot reach the camera: {error}", error=exc.strerror or str(exc))) from None
    return _parse_http(data)


def _parse_http(data: bytes) -> Answer:
    end = data.find(b"\r\n\r\n")
    if end < 0 or not data.startswith(b"HTTP/"):
        raise OnvifError("protocol", M("the answer is not HTTP"))
    lines = data[:end].decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        raise OnvifError("protocol", M("the answer is not HTTP")) from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, sep, v = line.partition(":")
        if sep:
            key = k.strip().lower()
            headers[key] = f"{headers[key]}, {v.strip()}" if key in headers else v.strip()
    body = data[end + 4:]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[:int(headers["content-length"])]
    return Answer(status, headers, body)


def _dechunk(body: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            return out
        try:
            size = int(body[pos:eol].split(b";")[0], 16)
        except ValueError:
            return out
        if size == 0:
            return out
        out += body[eol + 2:eol + 2 + size]
        pos = eol + 2 + size + 2


# -- HTTP authentication ------------------------------------------------------------------------

def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _sep, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', rest)}
    return scheme.lower(), params


@dataclass
class HttpAuth:
    """The HTTP authentication a camera asked for, kept for the following calls."""
    scheme: str  # digest | basic
    params: dict[str, str]
    count: int = 0

    def header(self, method: str, uri: str, user: str, password: str) -> str:
        if self.scheme == "basic":
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        p = self.params
        algorithm = p.get("algorithm", "MD5")
        hashing = hashlib.sha256 if algorithm.upper().startswith("SHA-256") else hashlib.md5

        def h(value: str) -> str:
            return hashing(value.encode("utf-8")).hexdigest()
        self.count += 1
        nc = f"{self.count:08x}"
        cnonce = os.urandom(8).hex()
        ha1 = h(f"{user}:{p.get('realm', '')}:{password}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = h(f"{ha1}:{p.get('nonce', '')}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        qop = "auth" if "auth" in [q.strip() for q in p.get("qop", "").split(",")] else ""
        if qop:
            response = h(f"{ha1}:{p.get('nonce', '')}:{nc}:{cnonce}:{qop}:{ha2}")
        else:
            response = h(f"{ha1}:{p.get('nonce', '')}:{ha2}")
        parts = [f'username="{user}"', f'realm="{p.get("realm", "")}"', f'nonce="{p.get("nonce", "")}"',
                 f'uri="{uri}"', f'response="{response}"', f"algorithm={algorithm}"]
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        if "opaque" in p:
            parts.append(f'opaque="{p["opaque"]}"')
        return "Digest " + ", ".join(parts)


def username_token(user: str, password: str, created: datetime) -> str:
    """The WS-Security header: PasswordDigest = Base64(SHA-1(nonce + created + password))."""
    nonce = os.urandom(16)
    stamp = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z"
    digest = base64.b64encode(hashlib.sha1(nonce + stamp.encode() + password.encode("utf-8")).digest()).decode()
    return (f'<wsse:Security s:mustUnderstand="1" xmlns:wsse="{NS["wsse"]}" xmlns:wsu="{NS["wsu"]}">'
            f"<wsse:UsernameToken><wsse:Username>{escape(user)}</wsse:Username>"
            f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{stamp}</wsu:Created></wsse:UsernameToken></wsse:Security>")


def envelope(body: str, header: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{NS["s"]}" xmlns:tds="{NS["tds"]}" '
            f'xmlns:trt="{NS["trt"]}" xmlns:tt="{NS["tt"]}"><s:Header>{header}</s:Header>'
            f"<s:Body>{body}</s:Body></s:Envelope>").encode("utf-8")


# -- a call -----------------------------------------------------------------------------------

@dataclass
class Session:
    """Calls to one camera: its clock offset for the tokens, the HTTP auth it asked for, notes."""
    endpoint: Endpoint
    timeout: float = DEFAULT_TIMEOUT
    clock: Callable[[], float] = time.time
    offset: float | None = None  # camera UTC minus station UTC, seconds
    http_auth: HttpAuth | None = None
    notes: list = field(default_factory=list)  # things worth telling the user (Msg)

    def call(self, operation: str, body: str, *, auth: bool = True, endpoint: Endpoint | None = None,
             measure_clock: Callable[[], float] | None = None) -> ET.Element:
        """The answer's first Body element for `body`; authenticated unless `auth` is False.
        `measure_clock` refreshes `offset` (GetSystemDateAndTime) when a token is refused."""
        target = endpoint or self.endpoint
        credentials = auth and bool(target.user)
        if credentials and self.offset is None and measure_clock is not None:
            measure_clock()
        retried_clock = retried_http = False
        while True:
            header = ""
            if credentials and self.http_auth is None:
                created = datetime.fromtimestamp(self.clock() + (self.offset or 0.0), timezone.utc)
                header = username_token(target.user, target.password, created)
            headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{operation}"'}
            if credentials and self.http_auth is not None:
                headers["Authorization"] = self.http_auth.header("POST", target.path, target.user, target.password)
            answer = post(target, envelope(body, header), headers, self.timeout)
            if answer.status == 401 and credentials and not retried_http:
                scheme, params = _challenge(answer.headers.get("www-authenticate", ""))
                if scheme in ("digest", "basic"):
                    stale = self.http_auth is not None
                    self.http_auth = HttpAuth(scheme, params)
                    if not stale:
                        self.notes.append(M("the camera wants HTTP {scheme} authentication", scheme=scheme.title()))
                    retried_http = True
                    continue
            if answer.status == 401:
                raise OnvifError("refused", M("the camera refused the credentials (HTTP 401): wrong user or password?"))
            root, replaced = parse_xml(answer.body) if answer.body.strip() else (None, False)
            if replaced:
                self.notes.append(M("the camera's answer held invalid UTF-8 (replaced by �)"))
            body_el = child(root, "Body") if root is not None else None
            fault = child(body_el, "Fault")
            if fault is not None:
                code = " ".join(text(v) for v in fault.iter() if local(v.tag) == "Value")
                reason = text(child(fault, "Reason"), "Text") or text(fault, "faultstring")
                if "NotAuthorized" in code or "FailedAuthentication" in code or "not authorized" in reason.lower():
                    if credentials and not retried_clock and measure_clock is not None:
                        retried_clock = True
                        measure_clock()  # a stale offset makes the token look old or from the future
                        continue
                    raise OnvifError("refused", M("the camera refused the credentials: wrong user or password?"),
                                     fault=code)
                raise OnvifError("fault", M("the camera answered {operation} with a fault: {reason}",
                                            operation=operation, reason=reason or code or "?"), fault=code)
            if answer.status >= 300 or body_el is None or len(body_el) == 0:
                raise OnvifError("protocol", M("the camera answered {operation} with HTTP {status}",
                                               operation=operation, status=answer.status))
            return body_el[0]
