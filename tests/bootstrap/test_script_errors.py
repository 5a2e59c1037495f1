"""scripts/ensure-services.sh as a user without root or sudo: one line saying what is wrong and the fix, at once.

It runs as `nobody` (setpriv) with a PATH where no sudo exists, in a network namespace of its own (unshare) where
nothing answers on 127.0.0.1, so the shared MariaDB and Redis are never involved.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from fresh.settings import ROOT

SCRIPT = str(ROOT / "scripts" / "ensure-services.sh")


@pytest.fixture
def nobody_dir():
    """A directory `nobody` may reach and write (pytest's own tmp dirs are root's alone)."""
    home = Path(tempfile.mkdtemp(prefix="fresh-nobody-"))
    os.chmod(home, 0o755)
    shutil.chown(home, "nobody", "nogroup")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def run_as_nobody(home, extra_path: str = "", **env) -> subprocess.CompletedProcess:
    path = ":".join(p for p in (extra_path, "/usr/bin:/bin") if p)
    assert shutil.which("sudo", path=path) is None  # the premise: no sudo to fall back on
    environ = {"PATH": path, "HOME": str(home), "FRESH_CONFIG": "/nonexistent", "FRESH_VAR_DIR": str(home / "var"),
               "FRESH_DB_PASSWORD_FILE": str(home / "db_password"), "FRESH_WEB_COOKIE_SECRET": "e" * 40,
               **{k: str(v) for k, v in env.items()}}
    # A bound: a script that waited for a server instead of saying what to do would overrun it.
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", SCRIPT]
    return subprocess.run(["unshare", "--net", "sh", "-c", '/usr/sbin/ip link set lo up && exec "$@"', "-", *as_nobody],
                          env=environ, capture_output=True, text=True, timeout=20)


def test_a_stopped_mariadb_without_root_says_the_command_to_start_it(nobody_dir):
    done = run_as_nobody(nobody_dir)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    # This machine has `service` and no systemd; a systemd machine is told `systemctl start mariadb`.
    assert line == ('error: starting MariaDB needs root and there is no password-less sudo:'
                    ' run  su root -c "service mariadb start"')


def test_a_missing_redis_without_root_says_the_command_to_install_it(nobody_dir):
    # The machine's package database says redis-server is absent (a stand-in dpkg-query: the real one would say
    # it is installed on this machine), and nothing answers where the shop looks for Redis.
    fake = nobody_dir / "bin"
    fake.mkdir()
    (fake / "dpkg-query").write_text(
        '#!/bin/sh\nfor a in "$@"; do [ "$a" = redis-server ] && exit 1; done\nexec /usr/bin/dpkg-query "$@"\n')
    os.chmod(fake / "dpkg-query", 0o755)
    done = run_as_nobody(nobody_dir, extra_path=str(fake))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: installing redis-server needs root and there is no password-less sudo:"
        " run  su root -c \"apt-get install -y redis-server\""]
    assert "installing" not in done.stdout  # nothing was attempted
