"""scripts/ensure-services.sh end to end, as root, against a private MariaDB and a Redis port nothing answers on."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from fresh.settings import ROOT
from tests.bootstrap.conftest import bootstrap_env
from tests.helpers import free_port

SCRIPT = str(ROOT / "scripts" / "ensure-services.sh")


def test_the_script_starts_its_redis_and_sets_up_the_account_then_changes_nothing(private_mariadb, tmp_path):
    redis_port = free_port()
    env = bootstrap_env(tmp_path / "state", FRESH_DB_PORT=private_mariadb.port,
                        FRESH_DB_ADMIN_SOCKET=private_mariadb.socket, FRESH_DB_PASSWORD_FILE=tmp_path / "db_password",
                        FRESH_VAR_DIR=tmp_path / "var",
                        FRESH_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    pidfile = tmp_path / "var" / "redis" / "redis.pid"
    try:
        first = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        lines = first.stdout.splitlines()
        assert lines[0] == (f"Redis is not answering: starting redis-server on port {redis_port} with its data in"
                            f" {tmp_path}/var/redis")
        assert lines[1].startswith(f"waiting for Redis on 127.0.0.1:{redis_port}")
        assert lines[2] == ("MariaDB account dailyfresh: set up (password and privileges) through root over the unix"
                            f" socket (password generated into {tmp_path / 'db_password'})")
        assert lines[3] == "MariaDB and Redis answer"
        assert subprocess.run(["redis-cli", "-p", str(redis_port), "config", "get", "appendonly"],
                              capture_output=True, text=True, timeout=10).stdout.split() == ["appendonly", "yes"]

        again = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines() == ["MariaDB account dailyfresh: ready", "MariaDB and Redis answer"]
    finally:
        if pidfile.exists():
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.05)
