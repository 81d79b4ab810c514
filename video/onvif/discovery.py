"""WS-Discovery: find ONVIF cameras (NetworkVideoTransmitter) by a multicast Probe.

One UDP socket per chosen interface address, bound to that address, with
IP_MULTICAST_IF set to it, sends the Probe to 239.255.255.250:3702 (twice, as the
spec's retransmission advises) and collects ProbeMatches until the timeout. The
socket never leaves that interface, so `--interface 127.0.0.1` probes loopback only.
"""

from __future__ import annotations

import select
import socket
import time
import uuid
from dataclasses import dataclass, field

from video.onvif.soap import OnvifError, child, children, parse_xml, text

GROUP = ("239.255.255.250", 3702)
PROBE = ('<?xml version="1.0" encoding="utf-8"?>'
         '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
         'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
         'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
         'xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>'
         '<a:MessageID>urn:uuid:{id}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
         '<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>'
         '<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>')


@dataclass
class Match:
    """One device that answered: its endpoint reference and service addresses."""
    urn: str
    xaddrs: list[str]
    scopes: list[str] = field(default_factory=list)
    sender: str = ""  # the IP address the answer came from
    interface: str = ""

    @property
    def name(self) -> str:
        """The `onvif://www.onvif.org/name/...` scope, if any."""
        for scope in self.scopes:
            if "/name/" in scope:
                return scope.rsplit("/name/", 1)[1]
        return ""


def interface_addresses() -> list[str]:
    """Every IPv4 address of this machine's interfaces that are up (loopback too: a probe there
    stays on this machine, and finds the simulated cameras)."""
    import psutil

    found = []
    stats = psutil.net_if_stats()
    for name, addresses in psutil.net_if_addrs().items():
        if name in stats and not stats[name].isup:
            continue
        for a in addresses:
            if a.family == socket.AF_INET:
                found.append(a.address)
    return found


def _matches(data: bytes, sender: str, interface: str, message_id: str) -> list[Match]:
    try:
        root, _replaced = parse_xml(data)
    except OnvifError:
        return []
    relates = text(child(root, "Header"), "RelatesTo")
    if relates and relates != f"urn:uuid:{message_id}":
        return []  # an answer to someone else's probe
    found = []
    for match in children(child(root, "Body", "ProbeMatches"), "ProbeMatch"):
        urn = text(match, "EndpointReference", "Address")
        xaddrs = text(match, "XAddrs").split()
        if urn and xaddrs:
            found.append(Match(urn, xaddrs, text(match, "Scopes").split(), sender, interface))
    return found


def probe(interfaces: list[str], timeout: float = 3.0) -> list[Match]:
    """Probe on each interface address at once; every device once (by endpoint reference)."""
    message_id = str(uuid.uuid4())
    payload = PROBE.format(id=message_id).encode()
    sockets: dict[socket.socket, str] = {}
    try:
        for address in interfaces:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.bind((address, 0))
            sock.setblocking(False)
            sockets[sock] = address
        for sock in sockets:
            sock.sendto(payload, GROUP)
        found: dict[str, Match] = {}
        start = time.monotonic()
        resent = False
        while sockets:
            left = start + timeout - time.monotonic()
            if left <= 0:
                break
            if not resent and time.monotonic() - start > 0.1:
                for sock in sockets:  # UDP may lose the first one (WS-Discovery's repeat)
                    sock.sendto(payload, GROUP)
                resent = True
            ready, _w, _x = select.select(list(sockets), [], [], min(left, 0.1) if not resent else left)
            for sock in ready:
                try:
                    data, (sender, _port) = sock.recvfrom(65536)
                except OSError:
                    continue
                for match in _matches(data, sender, sockets[sock], message_id):
                    found.setdefault(match.urn, match)
        return list(found.values())
    finally:
        for sock in sockets:
            sock.close()
