"""Build the offline bundle: dist/ppe-tech-VERSION-offline-linux-x86_64.tar.gz.

    make dist                        # the wheel (make deps built it) and the bundle
    .venv/bin/python scripts/bundle.py --force

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
"""

from __future__ import annotations

import argparse
import gzip
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
    args = parser.parse_args()
    dist = ROOT / "dist"
    wheels = sorted(dist.glob("ppe_tech-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise SystemExit("bundle: expected one ppe-tech wheel in dist/ (run `make deps`)")
    wheel = wheels[0]
    version = wheel.name.split("-")[1]
    target = dist / f"ppe-tech-{version}-offline-linux-x86_64.tar.gz"
    inputs = hashlib.sha256()
    for path in (wheel, LOCK, TOOLS_LOCK, INSTALLER, Path(__file__)):
        inputs.update(path.read_bytes())
    stamp = dist / ".offline-bundle-inputs"
    if not args.force and target.exists() and stamp.exists() and stamp.read_text() == inputs.hexdigest():
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


if __name__ == "__main__":
    sys.exit(main())
