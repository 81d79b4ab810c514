"""The machine itself: load and memory, disk for the recordings, power, the clock."""

from __future__ import annotations

import shutil
import socket
import struct
import sys
import time
from datetime import timedelta

import psutil

from checks.model import N_, Commands, Foreign, M, Outcome, describe_os_error, failed, passed, processes, skipped, warned

GiB = 2**30


def resources(ctx, cmds: Commands) -> Outcome:
    limits = ctx.config.checks
    cpus = psutil.cpu_count() or 1
    try:
        load = psutil.getloadavg()[0] / cpus
    except (AttributeError, OSError, RuntimeError):  # RuntimeError: Windows with performance counters off
        load = psutil.cpu_percent(interval=0.5) / 100
    memory = psutil.virtual_memory()
    text = M("load {load:.2f} per core, {free:.1f} GiB of memory free", load=load, free=memory.available / GiB)
    if memory.available < limits.min_free_memory:
        return failed(M("{text} (need {need:.1f} GiB)", text=text, need=limits.min_free_memory / GiB), load=load,
                      free_memory=memory.available)
    if load > limits.max_load:
        return warned(M("{text} (load over {limit:g})", text=text, limit=limits.max_load), load=load,
                      free_memory=memory.available)
    return passed(text, load=load, free_memory=memory.available)


def recording_need(ctx):
    """What the cameras will write over what is left of the exam's recording window
    (`video.estimate`, the same figure `cameras start` and `exam status` give)."""
    from video import estimate

    return estimate.need(ctx.recordings_dir, [c.id for c in ctx.config.cameras],
                         ctx.config.recording.segment.total_seconds(), ctx.exam, ctx.tz, ctx.now)


def assumed_text(need) -> M:
    """What an estimate rests on, in words: the bitrate measured or assumed, the span."""
    assumed = need.cameras - need.measured
    basis = (M("bitrate measured") if not assumed else
             M("bitrate assumed 4 Mbit/s for {n} of them", n=assumed))
    span = (M("the recording window until {end:%H:%M}", end=need.window[1]) if need.window
            else M("no exam given: 4 h assumed"))
    return M("{cams} cameras at {mbit:.1f} Mbit/s ({basis}) for {hours:.1f} h, {span}", cams=need.cameras,
             mbit=need.rate * 8 / 1e6, basis=basis, hours=need.seconds / 3600, span=span)


def disk(ctx, cmds: Commands) -> Outcome:
    where = ctx.recordings_dir
    probe = where
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    need = recording_need(ctx)
    floor = ctx.config.recording.floor
    text = M("{free:.1f} GiB free in {where}; the recording needs about {need:.1f} GiB: {basis}",
             free=free / GiB, where=str(where), need=need.bytes / GiB, basis=assumed_text(need))
    data = {"free": free, "need": need.bytes, "path": str(where), "estimate": need.as_json()}
    if free < need.bytes:
        return failed(text, **data)
    if free - need.bytes < floor:
        return warned(M("{text}, leaving less than the floor of {floor:.1f} GiB", text=text, floor=floor / GiB), **data)
    return passed(text, **data)


def power(ctx, cmds: Commands) -> Outcome:
    try:
        battery = psutil.sensors_battery()
    except (AttributeError, NotImplementedError, OSError):
        battery = None
    if battery is None:
        return skipped(M("no battery or UPS visible to the operating system"))
    percent = battery.percent
    if battery.power_plugged:
        return passed(M("mains power, battery {percent:.0f} %", percent=percent), percent=percent, plugged=True)
    minutes = battery.secsleft / 60 if battery.secsleft not in (psutil.POWER_TIME_UNKNOWN,
                                                                 psutil.POWER_TIME_UNLIMITED) else None
    text = M("on battery: {percent:.0f} %, about {minutes:.0f} min left", percent=percent, minutes=minutes) if minutes \
        else M("on battery: {percent:.0f} %", percent=percent)
    if percent < ctx.config.checks.min_battery:
        return failed(text, percent=percent, plugged=False)
    return warned(M("{text} (mains power is off)", text=text), percent=percent, plugged=False)


# -- the clock ---------------------------------------------------------------------------

NTP_EPOCH = 2208988800  # 1900-01-01 to 1970-01-01 in seconds


def sntp_offset(host: str, port: int = 123, timeout: float = 2.0) -> tuple[float, float]:
    """(offset, round trip) in seconds against an NTP server, by one SNTP v4 request (RFC 4330).

    offset > 0 means the local clock is behind the server.
    """
    packet = bytearray(48)
    packet[0] = (0 << 6) | (4 << 3) | 3  # no leap warning, version 4, client
    t1 = time.time()
    secs = int(t1) + NTP_EPOCH
    struct.pack_into("!II", packet, 40, secs, int((t1 % 1) * 2**32))
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(bytes(packet), (host, port))
        data, _peer = sock.recvfrom(512)
    t4 = time.time()
    if len(data) < 48:
        raise ValueError("short NTP reply")
    mode, stratum = data[0] & 7, data[1]
    if mode != 4 or stratum == 0:
        raise ValueError(f"not a server reply (mode {mode}, stratum {stratum})")
    originate = struct.unpack_from("!II", data, 24)
    if originate != (secs, int((t1 % 1) * 2**32)):
        raise ValueError("reply does not answer our request")

    def stamp(offset: int) -> float:
        whole, frac = struct.unpack_from("!II", data, offset)
        return whole - NTP_EPOCH + frac / 2**32
    t2, t3 = stamp(32), stamp(40)
    return ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)


def _split_host(server: str) -> tuple[str, int]:
    if server.startswith("[") and "]" in server:  # [::1]:123
        host, _sep, rest = server[1:].partition("]")
        return host, int(rest.lstrip(":") or 123)
    if server.count(":") == 1:
        host, port = server.split(":")
        return host, int(port)
    return server, 123


def os_sync_status(cmds: Commands) -> tuple[bool | None, object]:
    """Whether the OS says its clock is synchronised: (yes/no/unknown, how we know)."""
    if sys.platform == "win32":
        code, out, _err = cmds.run(["w32tm", "/query", "/status"], timeout=5)
        return parse_w32tm(out) if code == 0 else (None, M("{tool} failed", tool=_W32TM))
    try:
        code, out, _err = cmds.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], timeout=5)
    except FileNotFoundError:
        return None, M("{tool} not found", tool=_TIMEDATECTL)
    if code != 0:
        return None, M("{tool} gave no answer", tool=_TIMEDATECTL)
    return out.strip() == "yes", _TIMEDATECTL


_TIMEDATECTL = Foreign("timedatectl", N_("the time service of the system"))
_W32TM = Foreign("w32tm", N_("the time service of the system"))


def parse_w32tm(output: str) -> tuple[bool | None, object]:
    """`w32tm /query /status`: synchronised unless the source is the local clock or unset."""
    fields = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    source = fields.get("source") or fields.get("источник")
    if source is None:
        return None, _W32TM
    unsynced = source.lower() in ("local cmos clock", "free-running system clock") or not source
    return (not unsynced), M("{tool}, source {source}", tool=_W32TM, source=source)


def clock(ctx, cmds: Commands) -> Outcome:
    settings = ctx.config.checks
    warn_s, fail_s = settings.clock_warn.total_seconds(), settings.clock_fail.total_seconds()
    if settings.ntp_server:
        host, port = _split_host(settings.ntp_server)
        try:
            offset, delay = sntp_offset(host, port, timeout=min(3.0, max(0.5, cmds.remaining())))
        except (OSError, ValueError) as exc:
            synced, how = os_sync_status(cmds)
            error = describe_os_error(exc) if isinstance(exc, OSError) else Foreign(exc, N_("not a valid answer"))
            text = M("NTP server {server} did not answer ({error})", server=settings.ntp_server, error=error)
            if synced:
                return warned(M("{text}; the system says its clock is synchronised ({how})", text=text, how=how))
            if synced is False:
                return warned(M("{text}; the system clock is not synchronised", text=text))
            return warned(M("{text}; synchronisation unknown ({how})", text=text, how=how))
        text = M("clock {s:.3f} s behind {server}", s=offset, server=settings.ntp_server) if offset > 0 else \
            M("clock {s:.3f} s ahead of {server}", s=-offset, server=settings.ntp_server)
        data = {"offset_s": round(offset, 4), "delay_s": round(delay, 4), "server": settings.ntp_server}
        if abs(offset) >= fail_s:
            return failed(M("{text} (limit {s:g} s)", text=text, s=fail_s), **data)
        if abs(offset) >= warn_s:
            return warned(M("{text} (over {s:g} s)", text=text, s=warn_s), **data)
        return passed(text, **data)
    synced, how = os_sync_status(cmds)
    if synced is None:
        return skipped(M("no NTP server configured (checks.ntp_server) and the sync status is unknown ({how})", how=how))
    if synced:
        return passed(M("the system clock is synchronised ({how})", how=how))
    return warned(M("the system clock is not synchronised ({how}); set checks.ntp_server to measure the offset", how=how))




PROC_MOUNTS = "/proc/mounts"


def proc_hidden(mounts_text: str) -> bool | None:
    """Whether /proc hides other users' processes (hidepid=2 or =invisible); None if /proc is not listed."""
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "proc" and fields[1] == "/proc":
            options = dict(o.partition("=")[::2] for o in fields[3].split(","))
            return options.get("hidepid") in ("2", "invisible", "4", "noaccess")
    return None


def _command_lines():
    """(pid, name, command line) of every process this user may read."""
    for info in processes(["pid", "name", "cmdline"]):
        cmdline = info.get("cmdline")
        if cmdline:
            yield info["pid"], info.get("name") or "?", "\0".join(cmdline)


def process_arguments(ctx, cmds: Commands, mounts: str = PROC_MOUNTS, processes=_command_lines) -> Outcome:
    """Any command line holds what every local user can read in /proc unless it is mounted with
    hidepid. ppe-tech's ffmpeg reads a camera URL with a password on its stdin, never in its
    arguments (video.ffmpeg.camera_input); warn when a process still carries a camera's
    password in its command line (another recorder, a script, an old ppe-tech) while /proc
    shows it to everybody."""
    from ppe_tech.secrets import passwords_in

    if not sys.platform.startswith("linux"):
        return skipped(M("only Linux shows other users' command lines in /proc"))
    # a password as a URL carries it, `:secret@`: a bare short password would match ordinary words
    urls = [u for c in ctx.config.cameras for u in (c.url, c.onvif) if u]
    needles = {f":{secret}@" for url in urls for secret in passwords_in(url)}
    if not needles:
        return passed(M("no camera URL holds a password"))
    carriers = sorted({f"{name} (pid {pid})" for pid, name, line in processes() if any(n in line for n in needles)})
    if not carriers:
        return passed(M("no command line holds a camera password (ppe-tech's ffmpeg reads it on its stdin)"))
    try:
        with open(mounts, encoding="utf-8") as handle:
            hidden = proc_hidden(handle.read())
    except OSError:
        hidden = None
    shown = ", ".join(carriers[:3]) + (" …" if len(carriers) > 3 else "")
    if hidden:
        return passed(M("the command line of {processes} holds a camera password; /proc hides it from other "
                        "users (hidepid)", processes=shown), processes=carriers)
    return warned(M("the command line of {processes} holds a camera password that every local user can read; "
                    "stop that program or give it the URL another way, or mount /proc with hidepid=invisible "
                    "(fstab: proc /proc proc defaults,hidepid=invisible 0 0)", processes=shown), processes=carriers)
