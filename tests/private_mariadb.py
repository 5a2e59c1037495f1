"""A MariaDB server of the test's own: a fresh data directory, its own socket and a free port on 127.0.0.1, root
by unix_socket as Debian ships it. The shared server is never touched; these are stopped only by their PIDs.

A missing mariadb-install-db or mariadbd fails the tests that use one (never skips them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import end_process, free_port

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "mariadb-install-db"


class PrivateMariaDB:
    """One mariadbd over `base` (data, socket, pid file and error log there), started with `args` on top of the
    common ones. stop() and start() keep the data and the port; stall() and resume() are SIGSTOP and SIGCONT."""

    def __init__(self, base: Path, *args: str):
        self.base = base
        self.args = args
        self.datadir = base / "data"
        self.socket = str(base / "sock")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._user = ["--user=root"] if os.geteuid() == 0 else []

    def install(self) -> None:
        # --no-defaults: the machine's /etc/mysql configuration belongs to the shared server.
        done = subprocess.run([INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--skip-test-db",
                               "--auth-root-authentication-method=socket", *self._user],
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            output = (done.stdout + done.stderr)[-2000:]
            raise AssertionError(f"mariadb-install-db failed ({done.returncode}): {output}")

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until root can run a statement."""
        with open(self.base / "err.log", "ab") as log:
            self.proc = subprocess.Popen(
                [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.base / 'pid'}",
                 "--innodb-buffer-pool-size=16M", *self._user, *self.args],
                stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.root_sql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the private mariadbd did not start: "
                                         + (self.base / "err.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.2)

    def root_sql(self, sql: str) -> str:
        """Run SQL as root over the unix socket; tab-separated rows back."""
        return subprocess.run(["mariadb", f"--socket={self.socket}", "--user=root", "--batch", "--raw",
                               "--skip-column-names", "-e", sql], check=True, capture_output=True, text=True,
                              timeout=30).stdout

    def stall(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.resume()  # a stalled server cannot act on SIGTERM
        end_process(self.proc, 60)


@contextlib.contextmanager
def private_mariadb_server(*args: str) -> Iterator[PrivateMariaDB]:
    """A started PrivateMariaDB with `args`, stopped and its directory removed afterwards."""
    # A short directory: a unix socket's path is limited to about 100 characters.
    server = PrivateMariaDB(Path(tempfile.mkdtemp(prefix="fresh-mdb-")), *args)
    try:
        server.install()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)
