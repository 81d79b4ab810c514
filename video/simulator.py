"""Simulated IP cameras: H.264 over RTSP on 127.0.0.1, with faults on demand.

Each camera listens on its own port, like a real camera on its own address, and
serves a pre-encoded loop (made once by ffmpeg, cached), paced in real time with
continuous RTP timestamps, over RTSP with RTP interleaved on the TCP connection
(what recorders use). Serving costs no encoding, so benchmarks measure the recorder.

Faults, per camera: the picture (`black`, `frozen`, `blurred`, `covered`, lower
resolution or fps: a different loop) and the link (`offline`: connection refused;
`silent`: accepts and never answers; `stall`: the session stays open, no data;
`drop`: connections cut and refused for a while, then back). Link faults can be
set for a number of seconds, at start or at run time through JSON lines on stdin:
`{"camera": "corr-1", "fault": "drop", "seconds": 20}`.

Each camera is also an ONVIF device (`video/onvif_device.py`): HTTP SOAP on its own
port, found by WS-Discovery on loopback, with the faults `onvif_faults` and
`clock_skew` name (off with `"onvif": false`).

Run: `python -m video.simulator --spec spec.json` (prints one JSON line with the
URLs when ready), or `ppe-tech cameras simulate`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from video import onvif_device
from video.ffmpeg import filter_option

HOST = "127.0.0.1"  # the only address the simulator ever uses
PICTURE_FAULTS = ("black", "frozen", "blurred", "covered")
LINK_FAULTS = ("offline", "silent", "stall", "drop")
MAX_PAYLOAD = 7800  # ffmpeg drops interleaved RTP packets over 8 KiB
LOOP_SECONDS = 6
FONT = Path(__file__).resolve().parent.parent / "templates" / "fonts" / "DejaVuSansCondensed-Bold.ttf"


@dataclass
class CameraSpec:
    name: str
    width: int = 1280
    height: int = 720
    fps: int = 15
    picture: str = "live"  # live | black | frozen | blurred | covered
    fault: str = "none"  # none | offline | silent | stall | drop (link faults at start)
    fault_seconds: float = 0.0  # 0 = until changed
    user: str = ""
    password: str = ""
    port: int = 0
    gop: int = 0  # keyframe interval in frames [default: fps, one per second]
    onvif: bool = True  # also an ONVIF device
    onvif_faults: list = field(default_factory=list)  # see video.onvif_device.ONVIF_FAULTS
    clock_skew: float = 0.0  # the ONVIF clock's offset from real time, seconds
    slow_seconds: float = 8.0  # how late a `slow` device answers
    onvif_port: int = 0

    @classmethod
    def parse(cls, doc: dict) -> "CameraSpec":
        spec = cls(**doc)
        if spec.picture != "live" and spec.picture not in PICTURE_FAULTS:
            raise ValueError(f"camera {spec.name}: unknown picture {spec.picture!r}")
        if spec.fault != "none" and spec.fault not in LINK_FAULTS:
            raise ValueError(f"camera {spec.name}: unknown fault {spec.fault!r}")
        unknown = [f for f in spec.onvif_faults if f not in onvif_device.ONVIF_FAULTS]
        if unknown:
            raise ValueError(f"camera {spec.name}: unknown ONVIF fault {unknown[0]!r}")
        return spec


# -- the loops --------------------------------------------------------------------------------

def _filters(spec: CameraSpec) -> tuple[str, str]:
    """The lavfi source and the filter chain for a camera's picture."""
    size = f"{spec.width}x{spec.height}"
    label = spec.name.replace("\\", "").replace("'", "").replace(":", " ")
    text = (f"drawtext=fontfile={filter_option(str(FONT))}:text='{label}  %{{pts\\:hms}}':fontsize={max(16, spec.height // 18)}:"
            f"fontcolor=white:box=1:boxcolor=black@0.6:x=20:y=20")
    if spec.picture == "black":
        return f"color=black:size={size}:rate={spec.fps}", "null"
    if spec.picture == "frozen":
        return f"testsrc2=size={size}:rate={spec.fps}", f"{text},trim=end_frame=1,loop=loop=-1:size=1,setpts=N/FRAME_RATE/TB"
    if spec.picture == "blurred":
        return f"testsrc2=size={size}:rate={spec.fps}", f"{text},boxblur=luma_radius=min(h\\,w)/25:luma_power=3"
    if spec.picture == "covered":
        return (f"testsrc2=size={size}:rate={spec.fps}",
                f"{text},drawbox=x=0:y=ih*0.08:w=iw:h=ih*0.92:color=0x4a6a3a@1:t=fill")
    return f"testsrc2=size={size}:rate={spec.fps}", text


def loop_file(spec: CameraSpec, cache: Path) -> Path:
    """The camera's pre-encoded loop (H.264 Annex B, AUD before every frame), encoded once."""
    source, chain = _filters(spec)
    gop = spec.gop or spec.fps
    args = ["-f", "lavfi", "-i", source, "-t", str(LOOP_SECONDS), "-vf", chain, "-c:v", "libx264",
            "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(gop), "-keyint_min", str(gop), "-bf", "0",
            "-crf", "28", "-pix_fmt", "yuv420p", "-x264-params", "aud=1:repeat-headers=1", "-f", "h264"]
    return _encoded(args, cache, "h264")


def snapshot_file(spec: CameraSpec, cache: Path) -> Path:
    """A JPEG of the camera's picture (what its ONVIF snapshot URI serves), encoded once."""
    source, chain = _filters(spec)
    return _encoded(["-f", "lavfi", "-i", source, "-vf", chain, "-frames:v", "1", "-q:v", "4", "-f", "mjpeg"],
                    cache, "jpg")


def _encoded(args: list[str], cache: Path, suffix: str) -> Path:
    """ffmpeg's output for these arguments, kept in the cache under their hash."""
    key = hashlib.sha256(json.dumps(args).encode()).hexdigest()[:16]
    out = cache / f"{key}.{suffix}"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed")
    subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(tmp)], check=True)
    os.replace(tmp, out)
    return out


def _nal_units(data: bytes) -> list[bytes]:
    units, i, n = [], 0, len(data)
    starts = []
    while True:
        j = data.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        if k + 1 < len(starts) and data[end - 1] == 0:
            end -= 1  # a 4-byte start code
        units.append(data[s:end])
    return units


@dataclass
class Loop:
    """A loop split into frames of ready RTP payloads."""
    frames: list[list[bytes]]
    keyframes: list[bool]
    sps: bytes
    pps: bytes

    @classmethod
    def load(cls, path: Path) -> "Loop":
        frames: list[list[bytes]] = []
        keyframes: list[bool] = []
        sps = pps = b""
        current: list[bytes] | None = None
        for nal in _nal_units(path.read_bytes()):
            kind = nal[0] & 0x1F
            if kind == 9:  # access unit delimiter: a new frame
                current = []
                frames.append(current)
                keyframes.append(False)
                continue
            if current is None:
                continue
            if kind == 7:
                sps = nal
            elif kind == 8:
                pps = nal
            elif kind == 5:
                keyframes[-1] = True
            current.extend(_payloads(nal))
        pairs = [(f, k) for f, k in zip(frames, keyframes) if f]
        return cls([f for f, _ in pairs], [k for _, k in pairs], sps, pps)

    def sdp(self, fps: int) -> str:
        sprop = ",".join(base64.b64encode(x).decode() for x in (self.sps, self.pps))
        profile = self.sps[1:4].hex()
        return ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ppe-tech simulated camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
                "a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                f"a=fmtp:96 packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={sprop}\r\n"
                f"a=framerate:{fps}\r\na=control:track0\r\n")


def _payloads(nal: bytes) -> list[bytes]:
    """RTP payloads of one NAL unit: itself, or FU-A fragments (RFC 6184)."""
    if len(nal) <= MAX_PAYLOAD:
        return [nal]
    indicator = (nal[0] & 0xE0) | 28
    kind = nal[0] & 0x1F
    body = nal[1:]
    chunks = [body[i:i + MAX_PAYLOAD - 2] for i in range(0, len(body), MAX_PAYLOAD - 2)]
    out = []
    for i, chunk in enumerate(chunks):
        header = kind | (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
        out.append(bytes((indicator, header)) + chunk)
    return out


# -- the RTSP server ----------------------------------------------------------------------------

class Client(asyncio.Protocol):
    def __init__(self, camera: "Camera"):
        self.camera = camera
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.playing = False
        self.waiting_key = True
        self.session = f"{random.getrandbits(32):08x}"

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport
        self.camera.clients.add(self)

    def connection_lost(self, exc):  # type: ignore[override]
        self.camera.clients.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.camera.silent:
            return
        self.buffer += data
        while self.buffer:
            if self.buffer[0:1] == b"$":  # interleaved RTCP from the client
                if len(self.buffer) < 4:
                    return
                size = struct.unpack("!H", self.buffer[2:4])[0]
                if len(self.buffer) < 4 + size:
                    return
                self.buffer = self.buffer[4 + size:]
                continue
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.request(lines[0], headers)

    def reply(self, cseq: str, status: str = "200 OK", extra: dict[str, str] | None = None, body: str = "") -> None:
        lines = [f"RTSP/1.0 {status}", f"CSeq: {cseq}", "Server: ppe-tech-simulator"]
        for k, v in (extra or {}).items():
            lines.append(f"{k}: {v}")
        data = body.encode()
        if data:
            lines.append(f"Content-Length: {len(data)}")
        assert self.transport is not None
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)

    def request(self, first: str, headers: dict[str, str]) -> None:
        parts = first.split(" ")
        method = parts[0]
        url = parts[1] if len(parts) > 1 else ""
        cseq = headers.get("cseq", "0")
        camera = self.camera
        if camera.spec.user and method != "OPTIONS":
            expected = base64.b64encode(f"{camera.spec.user}:{camera.spec.password}".encode()).decode()
            if headers.get("authorization", "") != f"Basic {expected}":
                self.reply(cseq, "401 Unauthorized", {"WWW-Authenticate": 'Basic realm="ppe-tech"'})
                return
        if method == "OPTIONS":
            self.reply(cseq, extra={"Public": "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER"})
        elif method == "DESCRIBE":
            base = url.rstrip("/") + "/"
            self.reply(cseq, extra={"Content-Base": base, "Content-Type": "application/sdp"},
                       body=camera.loop.sdp(camera.spec.fps))
        elif method == "SETUP":
            transport = headers.get("transport", "")
            if "RTP/AVP/TCP" not in transport:
                self.reply(cseq, "461 Unsupported Transport")
                return
            self.reply(cseq, extra={"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
                                    "Session": f"{self.session};timeout=60"})
        elif method == "PLAY":
            self.playing = True
            self.waiting_key = True
            self.reply(cseq, extra={"Session": self.session, "Range": "npt=0.000-",
                                    "RTP-Info": f"url={url.rstrip('/')}/track0;seq={camera.seq};rtptime={camera.rtptime}"})
        elif method in ("GET_PARAMETER", "SET_PARAMETER"):
            self.reply(cseq, extra={"Session": self.session})
        elif method == "TEARDOWN":
            self.reply(cseq, extra={"Session": self.session})
            self.playing = False
            assert self.transport is not None
            self.transport.close()
        else:
            self.reply(cseq, "405 Method Not Allowed")


@dataclass
class Camera:
    spec: CameraSpec
    loop: Loop
    server: asyncio.base_events.Server | None = None
    placeholder: object | None = None  # a bound, not listening socket holding the port while offline
    clients: set = field(default_factory=set)
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    rtptime: int = field(default_factory=lambda: random.getrandbits(31))
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    index: int = 0
    fault: str = "none"
    fault_until: float = 0.0
    sent_bytes: int = 0
    packets: int = 0
    octets: int = 0

    @property
    def silent(self) -> bool:
        return self.fault == "silent"

    @property
    def url(self) -> str:
        auth = f"{self.spec.user}:{self.spec.password}@" if self.spec.user else ""
        return f"rtsp://{auth}{HOST}:{self.spec.port}/stream1"

    async def listen(self) -> None:
        if self.server is None:
            if self.placeholder is not None:
                self.placeholder.close()
                self.placeholder = None
            loop = asyncio.get_running_loop()
            if self.spec.port:
                self.server = await loop.create_server(lambda: Client(self), HOST, self.spec.port, reuse_address=True)
            else:
                self.server = await _listen_below_ephemeral(loop, lambda: Client(self))
            self.spec.port = self.server.sockets[0].getsockname()[1]

    def close_listener(self) -> None:
        """Stop answering: connections are refused. The port stays bound (not listening), so
        no other program on this machine is handed it while the camera is "offline"."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.placeholder is None and self.spec.port:
            import socket

            for reuse in (False, True):  # exclusive if it can be; else beside a lingering connection
                holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if reuse:
                    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    holder.bind((HOST, self.spec.port))
                except OSError:
                    holder.close()
                else:
                    self.placeholder = holder
                    break

    def cut_clients(self) -> None:
        for client in list(self.clients):
            if client.transport is not None:
                client.transport.abort()
        self.clients.clear()

    async def set_fault(self, fault: str, seconds: float = 0.0) -> None:
        self.fault = fault
        self.fault_until = time.monotonic() + seconds if seconds > 0 else 0.0
        if fault in ("offline", "drop"):
            self.close_listener()
            self.cut_clients()
        elif fault == "none":
            await self.listen()
        elif fault == "silent":
            await self.listen()
            self.cut_clients()

    async def run(self) -> None:
        """Advance the loop in real time and send each frame to the clients that play."""
        period = 1.0 / self.spec.fps
        step = 90000 // self.spec.fps
        frames, keyframes = self.loop.frames, self.loop.keyframes
        start = time.monotonic()
        tick = 0
        pack = struct.Struct("!cBHBBHII").pack
        while True:
            tick += 1
            delay = start + tick * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.fault_until and time.monotonic() >= self.fault_until:
                await self.set_fault("none")
            i = self.index % len(frames)
            self.index += 1
            self.rtptime = (self.rtptime + step) & 0xFFFFFFFF
            payloads = frames[i]
            if self.fault in ("stall", "silent", "offline", "drop"):
                continue
            receivers = []
            for client in self.clients:
                if not client.playing or client.transport is None:
                    continue
                if client.waiting_key:
                    if not keyframes[i]:
                        continue
                    client.waiting_key = False
                if client.transport.get_write_buffer_size() > 8 * 2**20:
                    client.transport.abort()  # a client that stopped reading
                    continue
                receivers.append(client.transport)
            if not receivers:
                continue
            chunks = []
            last = len(payloads) - 1
            for k, payload in enumerate(payloads):
                self.seq = (self.seq + 1) & 0xFFFF
                marker = 0x80 if k == last else 0
                chunks.append(pack(b"$", 0, len(payload) + 12, 0x80, marker | 96, self.seq, self.rtptime, self.ssrc))
                chunks.append(payload)
            if self.index % self.spec.fps == 0:  # a sender report every second: NTP time for this RTP time
                now = time.time() + 2208988800
                sr = struct.pack("!cBHBBHIIIIII", b"$", 1, 28, 0x80, 200, 6, self.ssrc, int(now),
                                 int((now % 1) * 2**32), self.rtptime, self.packets & 0xFFFFFFFF,
                                 self.octets & 0xFFFFFFFF)
                chunks.insert(0, sr)
            self.packets += len(payloads)
            self.octets += sum(len(p) for p in payloads)
            data = b"".join(chunks)
            self.sent_bytes += len(data) * len(receivers)
            for transport in receivers:
                transport.write(data)


async def serve(specs: list[CameraSpec], cache: Path, ready=None) -> None:
    cameras = {}
    for spec in specs:
        cameras[spec.name] = Camera(spec, Loop.load(loop_file(spec, cache)))
    for camera in cameras.values():
        await camera.listen()
        if camera.spec.fault != "none":
            await camera.set_fault(camera.spec.fault, camera.spec.fault_seconds)
    devices = await _onvif_devices(cameras, cache)
    responder = await onvif_device.start_responder(list(devices.values())) if devices else None
    tasks = [asyncio.create_task(c.run()) for c in cameras.values()]
    report = {"cameras": {name: {"url": c.url, "port": c.spec.port,
                                 **({"onvif": devices[name].xaddr} if name in devices else {})}
                          for name, c in cameras.items()}, "pid": os.getpid()}
    if ready is not None:
        ready(report)
    try:
        await _control(cameras)
    finally:
        for task in tasks:
            task.cancel()
        if responder is not None:
            responder.close()


async def _onvif_devices(cameras: dict[str, Camera], cache: Path) -> dict[str, "onvif_device.Device"]:
    """An ONVIF device for each camera that has one; a reboot takes its RTSP side offline too."""
    devices = {}
    for name, camera in cameras.items():
        spec = camera.spec
        if not spec.onvif:
            continue

        async def on_reboot(seconds: float, camera: Camera = camera) -> None:
            await camera.set_fault("offline", seconds)
        device = onvif_device.Device(name, spec.user, spec.password, spec.port, spec.width, spec.height, spec.fps,
                                     tuple(spec.onvif_faults), spec.clock_skew, spec.slow_seconds,
                                     port=spec.onvif_port, on_reboot=on_reboot,
                                     snapshot=lambda spec=spec: snapshot_file(spec, cache).read_bytes())
        await device.listen()
        devices[name] = device
    return devices


async def _control(cameras: dict[str, Camera]) -> None:
    """Commands on stdin, one JSON object a line; EOF on stdin keeps serving."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline) if sys.stdin else ""
        if not line:
            await asyncio.Event().wait()
        try:
            command = json.loads(line)
            camera = cameras[command["camera"]]
            fault = command.get("fault", "none")
            if fault != "none" and fault not in LINK_FAULTS:
                raise ValueError(fault)
            await camera.set_fault(fault, float(command.get("seconds", 0)))
            print(json.dumps({"ok": True, "camera": camera.spec.name, "fault": fault}), flush=True)
        except (ValueError, KeyError, TypeError) as exc:
            print(json.dumps({"ok": False, "error": str(exc)}), flush=True)


PORTS = (20000, 32000)  # below Linux's ephemeral range (32768+): a port an offline camera gives up
# is never handed to another program's bind(0) or outgoing connection


def port_free(port: int) -> bool:
    """Can a simulated camera listen on 127.0.0.1:`port` (nothing else holds it)?"""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


async def _listen_below_ephemeral(loop, factory):
    for _ in range(200):
        port = random.randrange(*PORTS)
        try:
            return await loop.create_server(factory, HOST, port, reuse_address=True)
        except OSError:
            continue  # taken: try another
    return await loop.create_server(factory, HOST, 0, reuse_address=True)


class Running:
    """A simulator in a subprocess (`python -m video.simulator`): its cameras' URLs, and
    link faults set or cleared on demand through its stdin."""

    def __init__(self, specs: list[dict], cache: Path, spec_file: Path, env: dict | None = None,
                 cwd: Path | None = None):
        import subprocess

        spec_file.write_text(json.dumps({"cameras": specs}), encoding="utf-8")
        self.proc = subprocess.Popen([sys.executable, "-P", "-m", "video.simulator", "--spec", str(spec_file),
                                      "--cache", str(cache)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=cwd, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError("the simulator did not start")
        self.cameras = json.loads(line)["cameras"]

    def url(self, name: str) -> str:
        return self.cameras[name]["url"]

    def onvif(self, name: str) -> str:
        """The camera's ONVIF device service address (no credentials)."""
        return self.cameras[name]["onvif"]

    def fault(self, name: str, fault: str, seconds: float = 0) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"camera": name, "fault": fault, "seconds": seconds}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"simulator: {answer}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ppe-tech" / "simulator"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m video.simulator", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, required=True, help="JSON: {\"cameras\": [{\"name\": ..., ...}]}")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="where encoded loops are kept")
    args = parser.parse_args(argv)
    doc = json.loads(args.spec.read_text(encoding="utf-8"))
    specs = [CameraSpec.parse(c) for c in doc["cameras"]]
    try:
        asyncio.run(serve(specs, args.cache, ready=lambda r: print(json.dumps(r), flush=True)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
