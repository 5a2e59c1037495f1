"""Private servers for the bootstrap's tests: the shared MariaDB and Redis are never touched or restarted.

A missing mariadb-install-db, mariadbd or redis-server fails these tests; they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from tornado.testing import bind_unused_port

from fresh.settings import ROOT


def free_port() -> int:
    sock, port = bind_unused_port()
    sock.close()
    return port


@dataclass(frozen=True)
class PrivateMariaDB:
    port: int
    socket: str

    def root_sql(self, sql: str) -> str:
        """Run SQL as root over the unix socket (how Debian lets root in); tab-separated rows back."""
        return subprocess.run(["mariadb", f"--socket={self.socket}", "--user=root", "--batch", "--raw",
                               "--skip-column-names", "-e", sql], check=True, capture_output=True, text=True,
                              timeout=30).stdout


@pytest.fixture(scope="module")
def private_mariadb():
    """A MariaDB of the test's own: a fresh datadir, its own socket and port, root by unix_socket and host names
    resolved (127.0.0.1 is localhost), as Debian ships it."""
    # A short directory: a unix socket's path is limited to about 100 characters.
    base = Path(tempfile.mkdtemp(prefix="fresh-mdb-"))
    datadir, socket = base / "data", str(base / "sock")
    user = ["--user=root"] if os.geteuid() == 0 else []
    # --no-defaults: the machine's /etc/mysql configuration belongs to the shared server.
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--skip-test-db",
                    "--auth-root-authentication-method=socket", *user],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    log = open(base / "err.log", "wb")
    server = subprocess.Popen(
        [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={datadir}",
         f"--socket={socket}", f"--port={port}", "--bind-address=127.0.0.1",
         f"--pid-file={base / 'pid'}", "--innodb-buffer-pool-size=16M", "--skip-log-bin", *user],
        stdout=log, stderr=log)
    mdb = PrivateMariaDB(port=port, socket=socket)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                mdb.root_sql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the private mariadbd did not start: "
                                         + (base / "err.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield mdb
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def bootstrap_env(state_dir, **extra) -> dict:
    """The environment of a bootstrap run that sees no configuration file, no checkout's secrets and, as this OS
    user's state directory (the shared copy of the password), `state_dir`."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FRESH_CONFIG": "/nonexistent",
           "FRESH_WEB_COOKIE_SECRET": "bootstrap-test-" + "x" * 40, "XDG_STATE_HOME": str(state_dir)}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_bootstrap(command: str, env: dict, **kwargs) -> subprocess.CompletedProcess:
    """`python3 -m fresh.bootstrap <command>` with the system's python3, as scripts/ensure-services.sh runs it."""
    return subprocess.run(["python3", "-m", "fresh.bootstrap", command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, **kwargs)
