"""MPEG-TS rewriting: the service description (SDT) of an archive file names what it holds.

Each SDT packet (PID 0x11) of a segment is replaced by one we build (same stream and
service ids, fresh CRC-32/MPEG-2) naming the region and ППЭ as provider and the time
range, camera and room as service, so `ffprobe -show_entries program_tags` says what
the file name says. Only 183 bytes of section fit in a packet; the room is cut first.
"""

from __future__ import annotations

TS_PACKET = 188
_CRC_TABLE: list[int] = []


def _crc32_mpeg(data: bytes) -> int:
    if not _CRC_TABLE:
        for i in range(256):
            crc = i << 24
            for _ in range(8):
                crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
            _CRC_TABLE.append(crc)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _dvb_text(text: str, limit: int) -> bytes:
    """UTF-8 marked for DVB (0x15), cut at a character boundary to `limit` bytes."""
    raw = text.encode("utf-8")[:limit - 1]
    return b"\x15" + raw.decode("utf-8", "ignore").encode("utf-8")


def sdt_payload(original: bytes, provider: str, name: str) -> bytes | None:
    """The 184-byte payload of an SDT packet like `original` (same stream and service ids)
    whose one service is described by `provider` and `name`; None if `original` is not
    a single-packet, single-service SDT as ffmpeg writes them (then it is left alone)."""
    if len(original) != TS_PACKET or original[3] & 0x30 != 0x10 or original[4] != 0:
        return None
    section = original[5:]
    length = ((section[1] & 0x0F) << 8) | section[2]
    if section[0] != 0x42 or 3 + length > len(section) or length < 8 + 5 + 4:
        return None
    if _crc32_mpeg(section[:3 + length]) != 0:
        return None
    loop = section[11:3 + length - 4]
    loop_length = ((loop[3] & 0x0F) << 8) | loop[4]
    if 5 + loop_length != len(loop):
        return None  # more than one service
    service_type = loop[7] if loop_length >= 3 and loop[5] == 0x48 else 0x01
    # one packet holds 183 bytes of section: 11 of header, 5 of service, 5 of descriptor
    # framing and 4 of CRC leave 158 for the two names
    space = TS_PACKET - 4 - 1 - 11 - 5 - 5 - 4
    provider_b = _dvb_text(provider, min(255, space // 3))
    name_b = _dvb_text(name, min(255, space - len(provider_b)))
    body = bytes([service_type, len(provider_b)]) + provider_b + bytes([len(name_b)]) + name_b
    descriptor = bytes([0x48, len(body)]) + body
    service = loop[:3] + bytes([(loop[3] & 0xF0) | (len(descriptor) >> 8), len(descriptor) & 0xFF]) + descriptor
    new_length = 8 + len(service) + 4
    new_section = bytes([0x42, (section[1] & 0xF0) | (new_length >> 8), new_length & 0xFF]) + section[3:11] + service
    new_section += _crc32_mpeg(new_section).to_bytes(4, "big")
    payload = b"\x00" + new_section
    return payload + b"\xff" * (TS_PACKET - 4 - len(payload))


class SdtRewriter:
    """Replaces, in whole-packet chunks of MPEG-TS, every SDT packet's payload."""

    def __init__(self, provider: str, name: str):
        self.provider, self.name = provider, name
        self._made: dict[bytes, bytes | None] = {}

    def __call__(self, chunk, n: int) -> None:
        import numpy as np

        whole = n - n % TS_PACKET
        if whole <= 0:
            return
        packets = np.frombuffer(chunk, dtype=np.uint8, count=whole).reshape(-1, TS_PACKET)
        hits = np.flatnonzero((packets[:, 0] == 0x47) & (packets[:, 1] == 0x40) & (packets[:, 2] == 0x11))
        for row in hits.tolist():
            at = row * TS_PACKET
            key = bytes(chunk[at + 4:at + TS_PACKET])
            if key not in self._made:
                self._made[key] = sdt_payload(bytes(chunk[at:at + TS_PACKET]), self.provider, self.name)
            payload = self._made[key]
            if payload is not None:
                chunk[at + 4:at + TS_PACKET] = payload
