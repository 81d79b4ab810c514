"""A throwaway PostgreSQL server for tests, benchmarks and the demo.

Debian's PostgreSQL package, a fresh cluster in a temporary folder, listening only on
a Unix socket in that folder (no port to collide with anything). PostgreSQL refuses
to run as root, so as root the cluster belongs to the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "postgres"


def bin_dir() -> Path | None:
    """Where initdb and postgres are: Debian keeps them under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class LocalPostgres:
    """`with LocalPostgres() as pg: pg.url` — a superuser URL over the cluster's socket."""

    def __init__(self, *, fsync: bool = False, timeout: float = 60.0):
        programs = bin_dir()
        if programs is None:
            from ppe_tech.system_packages import hint

            raise FileNotFoundError(f"PostgreSQL server ({hint('postgresql')})")
        self.base = Path(tempfile.mkdtemp(prefix="ppe-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        run_as: dict = {}
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # initdb: "cannot be run as root"
            import pwd

            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            run_as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        subprocess.run([str(programs / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "-N"], check=True, capture_output=True, env=env,
                       cwd=self.base, **run_as)
        with open(self.log, "wb") as sink:
            self.proc = subprocess.Popen(
                [str(programs / "postgres"), "-D", str(self.data), "-k", str(self.base), "-c", "listen_addresses=",
                 "-c", f"fsync={'on' if fsync else 'off'}", "-c", "max_connections=40",
                 "-c", "shared_buffers=128MB"],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=env, cwd=self.base,
                start_new_session=True, **run_as)
        self.url = self.url_for(SUPERUSER)
        deadline = time.monotonic() + timeout
        while not (self.base / ".s.PGSQL.5432").exists() or not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("PostgreSQL did not start: " + self.log.read_text(errors="replace")[-800:])
            time.sleep(0.05)

    def url_for(self, user: str, database: str = "postgres") -> str:
        return f"postgresql://{quote(user)}@/{database}?host={quote(str(self.base), safe='')}"

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def sql(self, statement: str, params: tuple = (), *, user: str = SUPERUSER) -> list[tuple]:
        """Run one statement as `user` (autocommit); rows if it returns any."""
        import psycopg

        with psycopg.connect(self.url_for(user), autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            if os.name == "nt":
                self.proc.terminate()
            else:
                self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
