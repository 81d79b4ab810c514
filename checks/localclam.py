"""A private clamd with a local signature database: for the demo, the tests and the benchmarks.

No signatures can be downloaded on an exam station without internet (nor here), so
the EICAR test signature is written locally; clamd runs in the foreground on a socket
in a folder of our own, as the current user, and is stopped with the object.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from checks.antivirus import Clamd

EICAR_BODY = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"


def clamd_program() -> str | None:
    found = shutil.which("clamd")
    if found:
        return found
    return "/usr/sbin/clamd" if Path("/usr/sbin/clamd").exists() else None


def eicar_database(folder: Path) -> Path:
    """A signature folder detecting the EICAR test file (reported as Ppe-Eicar-Test.UNOFFICIAL)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ppe-test.ndb").write_text(f"Ppe-Eicar-Test:0:*:{EICAR_BODY.hex()}\n", encoding="ascii")
    return folder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalClamd:
    """clamd on a local socket in `base`, or with tcp=True on a free TCP port of 127.0.0.1
    (as clamd listens on Windows); `address` is what antivirus.clamd_socket takes."""

    def __init__(self, base: Path, database: Path, *, timeout: float = 120.0, extra: str = "",
                 tcp: bool = False):
        program = clamd_program()
        if program is None:
            from ppe_tech.system_packages import hint

            raise FileNotFoundError(f"clamd ({hint('clamd')})")
        base.mkdir(parents=True, exist_ok=True)
        self.socket = base / "clamd.sock"
        self.database = database
        conf = base / "clamd.conf"
        if tcp:
            port = _free_port()
            self.address = f"tcp://127.0.0.1:{port}"
            listen = f"TCPSocket {port}\nTCPAddr 127.0.0.1\n"
        else:
            self.address = str(self.socket)
            listen = f"LocalSocket {self.socket}\n"
        conf.write_text(f"{listen}DatabaseDirectory {database}\nForeground yes\n"
                        f"LogFile {base / 'clamd.log'}\nTemporaryDirectory {base}\nMaxThreads 4\n"
                        f"PidFile {base / 'clamd.pid'}\n{extra}", encoding="ascii")
        self.errors = base / "clamd.stderr"
        started = time.perf_counter()
        with open(self.errors, "wb") as sink:  # a file, not a pipe nobody reads: clamd talks while loading
            self.proc = subprocess.Popen([program, "--config-file", str(conf)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=sink)
        client = Clamd(self.address)
        deadline = time.monotonic() + timeout
        while not client.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("clamd did not start: "
                                   + self.errors.read_text(errors="replace")[-1000:].strip())
            time.sleep(0.1)
        self.load_seconds = time.perf_counter() - started

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "LocalClamd":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
