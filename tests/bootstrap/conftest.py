"""Private servers for the bootstrap's tests: the shared MariaDB and Redis are never touched or restarted.

A missing mariadb-install-db, mariadbd or redis-server fails these tests; they never skip.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from fresh.settings import ROOT
from tests.private_mariadb import private_mariadb_server


@pytest.fixture(scope="module")
def private_mariadb():
    """A MariaDB of the test's own: a fresh datadir, its own socket and port, root by unix_socket and host names
    resolved (127.0.0.1 is localhost), as Debian ships it."""
    with private_mariadb_server("--skip-log-bin") as server:
        yield server


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
