"""Antivirus adapters: ClamAV, Microsoft Defender, Kaspersky, Dr.Web.

Each adapter answers the same questions (installed? real-time protection on? how old are
the signatures? does a scan of these folders come back clean?) from its product's own
tools, each with its own exit-code rules:

- ClamAV: clamd over its socket (PING, VERSION, MULTISCAN, INSTREAM for files clamd may
  not read), else `clamdscan`, else `clamscan` (0 clean, 1 found, 2 error). Signature age
  from VERSION, else the database files (.cvd/.cld headers, or their modification time).
- Defender: `Get-MpComputerStatus` as JSON; `MpCmdRun.exe -Scan -ScanType 3 -File`
  (0 clean, 2 threats found).
- Kaspersky: `kesl-control` on Linux (`--app-info`, `--scan-file`); on Windows `kescli
  --opswat` (GetDefinitionState, GetRealTimeProtectionState) and `avp.com SCAN` (0 clean,
  3 threats found, 1/2 cancelled/error).
- Dr.Web: `drweb-ctl baseinfo`, `appinfo`, `scan` (per-file lines; non-zero = error).

Commands go through `Commands.run`, so tests replay recorded outputs for the products
that cannot run here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from pathlib import Path

from checks.model import N_, Commands, Foreign, M, processes

_CLAMD = Foreign("clamd", N_("the ClamAV service"))
_CLAMONACC = Foreign("clamonacc", N_("the ClamAV monitor"))

@dataclass
class AvStatus:
    product: str
    version: str = ""
    realtime: bool | None = None  # None: the product cannot say
    realtime_note: object = ""  # str | Msg
    signatures: datetime | None = None  # when the signature databases were built/released
    notes: list = field(default_factory=list)  # of str | Msg


@dataclass
class ScanReport:
    product: str
    infected: list[tuple[str, str]] = field(default_factory=list)  # (path, threat)
    errors: list[str] = field(default_factory=list)
    scanned: int | None = None
    method: str = ""


class AvError(Exception):
    """The product is there but did not answer sensibly."""


# -- ClamAV -----------------------------------------------------------------------------------

# clamd on Windows has no local socket (Windows CPython has no AF_UNIX): it listens on TCP,
# port 3310 in the clamd.conf of the Windows build.
WINDOWS_CLAMD = "tcp://127.0.0.1:3310"
POSIX_DEFAULT_CLAMD = "/run/clamav/clamd.ctl"
_TCP = re.compile(r"(?:tcp://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[\w.-]+):(?P<port>\d{1,5})/?")


def clamd_endpoint(address: str) -> tuple[str, Any]:
    """('tcp', (host, port)) for `tcp://host:port` or `host:port`, else ('unix', path).

    Raises ValueError for a tcp:// address that is not host:port or has a port out of range."""
    match = _TCP.fullmatch(address)
    if match and (address.startswith("tcp://") or not os.path.exists(address)):
        port = int(match["port"])
        if not 0 < port < 65536:
            raise ValueError(address)
        return "tcp", (match["host"].strip("[]"), port)
    if address.startswith("tcp://"):
        raise ValueError(address)
    return "unix", address


class Clamd:
    """A clamd client on a local socket (path) or TCP (tcp://host:port or host:port); the 'z' form.

    Where there is no AF_UNIX (Windows), the POSIX default socket means clamd's TCP default."""

    def __init__(self, address: str, timeout: float = 10.0):
        if address == POSIX_DEFAULT_CLAMD and not hasattr(socket, "AF_UNIX"):
            address = WINDOWS_CLAMD
        self.address, self.timeout = address, timeout

    def _connect(self, timeout: float | None = None) -> socket.socket:
        try:
            kind, where = clamd_endpoint(self.address)
        except ValueError:
            raise OSError(f"not a clamd address: {self.address}") from None
        if kind == "tcp":
            return socket.create_connection(where, timeout=timeout or self.timeout)
        if not hasattr(socket, "AF_UNIX"):
            raise OSError(f"no local sockets on this system: clamd listens on TCP ({WINDOWS_CLAMD})")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout or self.timeout)
            sock.connect(where)
        except OSError:
            sock.close()
            raise
        return sock

    def command(self, name: str, timeout: float | None = None) -> str:
        with self._connect(timeout) as sock:
            sock.sendall(b"z" + name.encode("utf-8") + b"\0")
            return _read_all(sock).rstrip("\0\n")

    def ping(self) -> bool:
        try:
            return self.command("PING", timeout=3) == "PONG"
        except OSError:
            return False

    def instream(self, path: Path, timeout: float | None = None) -> str:
        with self._connect(timeout) as sock, open(path, "rb") as handle:
            sock.sendall(b"zINSTREAM\0")
            while chunk := handle.read(1 << 20):
                sock.sendall(struct.pack("!I", len(chunk)) + chunk)
            sock.sendall(struct.pack("!I", 0))
            return _read_all(sock).rstrip("\0\n")


def _read_all(sock: socket.socket) -> str:
    parts = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        parts.append(data)
    return b"".join(parts).decode("utf-8", "replace")


_FOUND = re.compile(r"^(?P<path>.*?): (?P<name>.+) FOUND$")


def parse_clam_lines(text: str) -> tuple[list[tuple[str, str]], list[str], int]:
    """Infected (path, name), error lines and the count of OK lines of clamd/clamscan output."""
    infected, errors, ok = [], [], 0
    for line in text.replace("\0", "\n").splitlines():
        line = line.strip()
        if not line or line.startswith("---") or ":" not in line:
            continue
        if line.endswith(" FOUND"):
            m = _FOUND.match(line)
            if m:
                infected.append((m.group("path"), m.group("name")))
        elif line.endswith(" ERROR") or line.endswith(": ERROR"):
            errors.append(line[:-len(" ERROR")])
        elif line.endswith(": OK") or line.endswith(": Empty file") or line.endswith(": Excluded"):
            ok += 1
    return infected, errors, ok


def clam_version_date(reply: str) -> tuple[str, datetime | None]:
    """'ClamAV 1.0.7/27465/Tue Nov 24 08:31:02 2026' → ('1.0.7', the database date)."""
    parts = reply.strip().split("/")
    version = parts[0].replace("ClamAV", "").strip()
    if len(parts) >= 3:
        try:
            return version, datetime.strptime(parts[2].strip(), "%a %b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return version, None


def clam_database_date(folder: Path) -> datetime | None:
    """Build time of the newest .cvd/.cld (their 512-byte header), else the newest signature file."""
    newest: datetime | None = None
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    for path in entries:
        when = None
        if path.suffix in (".cvd", ".cld", ".cud"):
            try:
                with open(path, "rb") as handle:
                    header = handle.read(512).decode("ascii", "replace").split(":")
                if header[0] == "ClamAV-VDB":
                    when = datetime.strptime(header[1].strip(), "%d %b %Y %H-%M %z")
            except (OSError, ValueError, IndexError):
                when = None
        elif path.suffix in (".hdb", ".hsb", ".ndb", ".ldb", ".mdb", ".msb", ".cdb", ".ign2", ".fp", ".sfp", ".yar",
                             ".yara", ".pdb", ".wdb", ".ftm", ".cbc", ".idb", ".ndu", ".ldu", ".hdu", ".info"):
            try:
                when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
            except OSError:
                when = None
        if when and (newest is None or when > newest):
            newest = when
    return newest


def count_files(path: Path) -> int:
    if Path(path).is_file():
        return 1
    return sum(len(files) for _dir, _dirs, files in os.walk(path))


class ClamAV:
    name = "ClamAV"

    def __init__(self, socket_path: str, database: str = ""):
        self.clamd = Clamd(socket_path)
        self.database = Path(database) if database else None

    def _database_dir(self) -> Path:
        if self.database:
            return self.database
        for conf in ("/etc/clamav/clamd.conf", "/etc/clamd.d/scan.conf", "/usr/local/etc/clamd.conf"):
            try:
                for line in Path(conf).read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.strip().startswith("DatabaseDirectory"):
                        return Path(line.split(None, 1)[1].strip())
            except OSError:
                continue
        return Path("C:/Program Files/ClamAV/database" if sys.platform == "win32" else "/var/lib/clamav")

    def detect(self, cmds: Commands) -> bool:
        return self.clamd.ping() or bool(shutil.which("clamdscan") or shutil.which("clamscan"))

    def status(self, cmds: Commands) -> AvStatus:
        st = AvStatus(self.name)
        if self.clamd.ping():
            st.version, st.signatures = clam_version_date(self.clamd.command("VERSION", timeout=5))
            st.notes.append(M("{daemon} answers on {address}", daemon=_CLAMD, address=self.clamd.address))
        else:
            code, out, _err = cmds.run(["clamscan", "--version"], timeout=20)
            if code != 0:
                raise AvError("clamscan --version failed")
            st.version, st.signatures = clam_version_date(out)
            st.notes.append(M("{daemon} does not answer on {address}", daemon=_CLAMD, address=self.clamd.address))
        if st.signatures is None:
            st.signatures = clam_database_date(self._database_dir())
        onacc = any((p.get("name") or "").startswith("clamonacc") for p in processes(["name"]))
        st.realtime = onacc
        st.realtime_note = M("on-access scanning ({tool}) is running", tool=_CLAMONACC) if onacc else \
            M("on-access scanning ({tool}) is not running", tool=_CLAMONACC)
        return st

    def scan(self, paths: list[Path], cmds: Commands) -> ScanReport:
        if self.clamd.ping():
            report = ScanReport(self.name, method="clamd MULTISCAN")
            for path in paths:
                reply = self.clamd.command(f"MULTISCAN {Path(path).resolve()}", timeout=max(1.0, cmds.remaining()))
                infected, errors, _ok = parse_clam_lines(reply)  # clamd says OK once per folder
                report.infected += infected
                report.scanned = (report.scanned or 0) + count_files(path)
                for line in errors:  # clamd may not read what we can: stream those files ourselves
                    target = line.split(": ", 1)[0]
                    if os.path.isfile(target):
                        try:
                            reply = self.clamd.instream(Path(target), timeout=max(1.0, cmds.remaining()))
                        except OSError as exc:
                            report.errors.append(f"{target}: {exc}")
                            continue
                        found, bad, _ok = parse_clam_lines(reply.replace("stream:", f"{target}:", 1))
                        report.infected += found
                        report.errors += bad
                    else:
                        report.errors.append(line)
            return report
        tool = "clamdscan" if shutil.which("clamdscan") and self._clamdscan_works(cmds) else "clamscan"
        args = [tool, "--no-summary", "--infected"] + (["--multiscan", "--fdpass"] if tool == "clamdscan" else ["-r"])
        if tool == "clamscan" and self.database:
            args += ["-d", str(self.database)]
        code, out, err = cmds.run(args + [str(p) for p in paths])
        infected, errors, _ok = parse_clam_lines(out)
        report = ScanReport(self.name, infected, errors, method=tool)
        if code == 2 or (code == 1 and not infected):
            report.errors.append((err.strip().splitlines() or [f"{tool} exited with {code}"])[-1])
        return report

    def _clamdscan_works(self, cmds: Commands) -> bool:
        try:
            return cmds.run(["clamdscan", "--ping", "1"], timeout=5)[0] == 0
        except (FileNotFoundError, OSError):
            return False


# -- Microsoft Defender ---------------------------------------------------------------------

POWERSHELL = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"]
MP_STATUS = ("Get-MpComputerStatus | Select-Object AMServiceEnabled,AntivirusEnabled,RealTimeProtectionEnabled,"
             "AntivirusSignatureLastUpdated,AntivirusSignatureAge,AntivirusSignatureVersion,AMProductVersion "
             "| ConvertTo-Json")


def ms_json_date(value) -> datetime | None:
    """Windows PowerShell 5.1 writes '/Date(1732431600000)/'; PowerShell 7 writes ISO 8601."""
    if not value:
        return None
    if isinstance(value, dict) and "value" in value:  # 5.1 sometimes wraps DateTime
        value = value["value"]
    text = str(value)
    m = re.search(r"Date\((-?\d+)", text)
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, timezone.utc)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _mpcmdrun() -> str:
    base = os.environ.get("ProgramFiles", r"C:\Program Files")
    return str(Path(base) / "Windows Defender" / "MpCmdRun.exe")


def parse_mpcmdrun(output: str) -> list[tuple[str, str]]:
    """Threats and their files from MpCmdRun's LIST OF DETECTED THREATS."""
    infected, threat = [], None
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        if key == "threat":
            threat = value.strip()
        elif key == "file" and threat:
            infected.append((value.strip(), threat))
    return infected


class Defender:
    name = "Microsoft Defender"

    def detect(self, cmds: Commands) -> bool:
        return sys.platform == "win32" and Path(_mpcmdrun()).exists()

    def status(self, cmds: Commands) -> AvStatus:
        code, out, err = cmds.run(POWERSHELL + [MP_STATUS], timeout=30)
        if code != 0:
            raise AvError((err.strip().splitlines() or ["Get-MpComputerStatus failed"])[-1])
        try:
            data = json.loads(out)
        except json.JSONDecodeError:
            raise AvError("Get-MpComputerStatus gave no JSON") from None
        st = AvStatus(self.name, str(data.get("AMProductVersion") or ""))
        enabled = bool(data.get("AntivirusEnabled")) and bool(data.get("AMServiceEnabled", True))
        st.realtime = enabled and bool(data.get("RealTimeProtectionEnabled"))
        st.realtime_note = M("real-time protection is on") if st.realtime else (
            M("the antivirus is disabled") if not enabled else M("real-time protection is off"))
        st.signatures = ms_json_date(data.get("AntivirusSignatureLastUpdated"))
        if data.get("AntivirusSignatureVersion"):
            st.notes.append(M("signatures {version}", version=data["AntivirusSignatureVersion"]))
        return st

    def scan(self, paths: list[Path], cmds: Commands) -> ScanReport:
        report = ScanReport(self.name, method="MpCmdRun -Scan -ScanType 3")
        for path in paths:
            code, out, err = cmds.run([_mpcmdrun(), "-Scan", "-ScanType", "3", "-File", str(path),
                                       "-DisableRemediation"])
            found = parse_mpcmdrun(out)
            if code == 2 and not found:
                found = [(str(path), "threat (MpCmdRun exit code 2)")]
            report.infected += found
            if code not in (0, 2):
                report.errors.append(f"{path}: MpCmdRun exited with {code}: "
                                     + ((err or out).strip().splitlines() or [""])[-1])
        return report


# -- Kaspersky --------------------------------------------------------------------------------

_DATES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%m/%d/%Y %I:%M:%S %p",
          "%Y-%m-%dT%H:%M:%S", "%Y-%b-%d %H:%M:%S", "%d.%m.%Y", "%Y-%m-%d")


def find_date(text: str) -> datetime | None:
    """The first date (and time) in a product's output, in any of the formats vendors print."""
    candidates = re.findall(r"\d{1,4}[-./][\dA-Za-z]{1,3}[-./]\d{2,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?: [AP]M)?)?",
                            text)
    for found in candidates:
        for fmt in _DATES:
            try:
                return datetime.strptime(found, fmt).astimezone(timezone.utc)
            except ValueError:
                continue
    return None


def key_values(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip().lower(), value.strip())
    return out


class Kaspersky:
    name = "Kaspersky"

    def __init__(self, platform: str = sys.platform):
        self.windows = platform == "win32"

    def detect(self, cmds: Commands) -> bool:
        return bool(shutil.which("kescli") or shutil.which("avp.com")) if self.windows else \
            bool(shutil.which("kesl-control"))

    def status(self, cmds: Commands) -> AvStatus:
        if self.windows:
            st = AvStatus("Kaspersky Endpoint Security")
            code, out, _err = cmds.run(["kescli", "--opswat", "GetDefinitionState"], timeout=30)
            if code != 0:
                raise AvError(f"kescli GetDefinitionState exited with {code}")
            st.signatures = find_date(out)
            code, out, _err = cmds.run(["kescli", "--opswat", "GetRealTimeProtectionState"], timeout=30)
            state = out.strip().splitlines()[-1].strip() if out.strip() else ""
            st.realtime = {"1": True, "0": False}.get(state)
            st.realtime_note = {True: M("File Threat Protection is on"), False: M("File Threat Protection is off")}.get(
                st.realtime, M("File Threat Protection state unknown ({state})", state=state or code))
            code, out, _err = cmds.run(["kescli", "--opswat", "GetVersion"], timeout=30)
            st.version = out.strip().splitlines()[-1] if code == 0 and out.strip() else ""
            return st
        code, out, err = cmds.run(["kesl-control", "--app-info"], timeout=30)
        if code != 0:
            raise AvError((err.strip().splitlines() or [f"kesl-control --app-info exited with {code}"])[-1])
        info = key_values(out)
        st = AvStatus(info.get("name", "Kaspersky Endpoint Security for Linux"), info.get("version", ""))
        st.signatures = find_date(info.get("last release date of databases", "")) or \
            find_date(info.get("databases release date", ""))
        loaded = info.get("anti-virus databases loaded", "").lower()
        if loaded and loaded != "yes":
            st.notes.append(M("anti-virus databases are not loaded"))
        protection = info.get("file threat protection", "").lower()
        if protection:
            st.realtime = protection in ("running", "started", "on", "enabled")
            st.realtime_note = M("File Threat Protection: {state}", state=protection)
        else:
            code, out, _err = cmds.run(["kesl-control", "--get-task-state", "File_Threat_Protection"], timeout=30)
            state = key_values(out).get("state", "").lower() or out.strip().lower()
            st.realtime = "started" in state or "running" in state
            st.realtime_note = M("File Threat Protection: {state}", state=state or "?")
        return st

    def scan(self, paths: list[Path], cmds: Commands) -> ScanReport:
        report = ScanReport(self.name)
        for path in paths:
            if self.windows:
                report.method = "avp.com SCAN"
                code, out, _err = cmds.run(["avp.com", "SCAN", str(path), "/i0"])
                found = [(m.group(1).strip(), m.group(2).strip()) for m in
                         re.finditer(r"^\S+\s+\S+\s+(.+?)\s+detected\s+(.+)$", out, re.M)]
                if code == 3 and not found:
                    found = [(str(path), "threat (avp.com exit code 3)")]
                report.infected += found
                if code not in (0, 3):
                    report.errors.append(f"{path}: avp.com exited with {code}")
            else:
                report.method = "kesl-control --scan-file"
                code, out, err = cmds.run(["kesl-control", "--scan-file", str(path), "--action", "Skip"])
                info = key_values(out)
                detected = int(re.sub(r"\D", "", info.get("total detected objects", "0")) or 0)
                found = [(m.group(1).strip(), m.group(2).strip()) for m in
                         re.finditer(r"^(?:Threat detected|Detected):?\s*(.+?)\s+[-–]\s+(.+)$", out, re.M)]
                if detected and not found:
                    found = [(str(path), f"{detected} detected object(s)")]
                report.infected += found
                scanned = re.sub(r"\D", "", info.get("scanned objects", ""))
                report.scanned = (report.scanned or 0) + int(scanned or 0)
                if code != 0:
                    report.errors.append(f"{path}: kesl-control exited with {code}: "
                                         + ((err or out).strip().splitlines() or [""])[-1])
        return report


# -- Dr.Web ------------------------------------------------------------------------------------

_DRWEB_LINE = re.compile(r"^(?P<path>.+?) - (?P<verdict>.+)$")


def parse_drweb_scan(output: str) -> tuple[list[tuple[str, str]], list[str], int]:
    infected, errors, ok = [], [], 0
    for line in output.splitlines():
        m = _DRWEB_LINE.match(line.strip())
        if not m:
            continue
        verdict = m.group("verdict")
        low = verdict.lower()
        if low == "ok":
            ok += 1
        elif low.startswith("infected with") or low.startswith("contains") or "suspicious" in low:
            infected.append((m.group("path"), verdict.split(" with ", 1)[-1] if " with " in verdict else verdict))
        elif "error" in low or "failed" in low or "denied" in low:
            errors.append(f"{m.group('path')}: {verdict}")
    return infected, errors, ok


class DrWeb:
    name = "Dr.Web"

    def detect(self, cmds: Commands) -> bool:
        return bool(shutil.which("drweb-ctl"))

    def status(self, cmds: Commands) -> AvStatus:
        code, out, err = cmds.run(["drweb-ctl", "baseinfo"], timeout=30)
        if code != 0:
            raise AvError((err.strip().splitlines() or [f"drweb-ctl baseinfo exited with {code}"])[-1])
        info = key_values(out)
        st = AvStatus(self.name, info.get("core engine", ""))
        st.signatures = find_date(info.get("virus database timestamp", ""))
        if info.get("virus database records"):
            st.notes.append(M("{n} records", n=info["virus database records"]))
        code, out, _err = cmds.run(["drweb-ctl", "appinfo"], timeout=30)
        guard = [line for line in out.splitlines() if "spider" in line.lower() or "guard" in line.lower()]
        st.realtime = any("running" in line.lower() or "active" in line.lower() for line in guard) if guard else False
        st.realtime_note = (M("SpIDer Guard is running") if st.realtime else
                            M("SpIDer Guard is not running") if guard or code == 0 else M("SpIDer Guard state unknown"))
        return st

    def scan(self, paths: list[Path], cmds: Commands) -> ScanReport:
        report = ScanReport(self.name, method="drweb-ctl scan")
        for path in paths:
            code, out, err = cmds.run(["drweb-ctl", "scan", str(path)])
            infected, errors, ok = parse_drweb_scan(out)
            report.infected += infected
            report.errors += errors
            report.scanned = (report.scanned or 0) + ok + len(infected)
            if code != 0 and not infected:
                report.errors.append(f"{path}: drweb-ctl exited with {code}: "
                                     + ((err or out).strip().splitlines() or [""])[-1])
        return report


# -- choosing ---------------------------------------------------------------------------------

def adapters(settings) -> dict[str, object]:
    return {"clamav": ClamAV(settings.clamd_socket, settings.database), "defender": Defender(),
            "kaspersky": Kaspersky(), "drweb": DrWeb()}


def choose(settings, cmds: Commands):
    """The configured engine, or the first one found (Defender, Kaspersky, Dr.Web, ClamAV); None if none."""
    found = adapters(settings)
    if settings.engine != "auto":
        return found[settings.engine]
    for key in ("defender", "kaspersky", "drweb", "clamav"):
        if found[key].detect(cmds):  # type: ignore[attr-defined]
            return found[key]
    return None
