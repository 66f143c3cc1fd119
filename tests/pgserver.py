"""A private PostgreSQL server for the store tests: ``initdb`` + ``pg_ctl`` (Debian's
``postgresql`` package, found by ``peers.postgresql_bin``) in a temporary directory, listening
on a free loopback port (and a socket in that directory only), trust authentication for the
user ``ccswitch``, stopped at the end of the session.

As root the server runs as the ``postgres`` user (``initdb`` refuses root).  Each test asks for
a fresh database (``new_database``) so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from peers import postgresql_bin

USER = "ccswitch"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """One running server; ``dsn(db)`` for a database on it."""

    def __init__(self) -> None:
        self.bin = Path(postgresql_bin())
        self.dir = Path(tempfile.mkdtemp(prefix="ccswitch-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self._run_as: list[str] = []
        self._names = itertools.count(1)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run([*self._run_as, *args], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): "
                               f"{done.stdout}{done.stderr}")

    def start(self) -> PgServer:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        for _attempt in range(5):  # the free port may be taken in between: try another
            self.port = _free_port()
            opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                    " -c max_connections=200")
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                          "-l", str(self.dir / "log"), "-o", opts, "start")
                break
            except RuntimeError:
                if self._running():
                    raise
        else:
            raise RuntimeError(f"PostgreSQL did not start: {self.log()}")
        self._wait()
        return self

    def _running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _wait(self) -> None:
        for _ in range(300):
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL does not answer: {self.log()}")

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text()[-2000:]
        except OSError:
            return ""

    def dsn(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its DSN."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def stop(self) -> None:
        try:
            if self._running():
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
