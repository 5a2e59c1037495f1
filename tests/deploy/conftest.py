"""The deployment under test: `python -m fresh.deploy`'s own renderer and start-up, real supervisord and nginx on
free ports, everything under a private var directory, stopped after the package's tests.

The app processes use the test database and Redis database, so the autouse `clean` fixture empties their data
between tests as it does for the in-process app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fresh import deploy
from fresh.keys import ensure_dev_keys, local_gateway_settings
from fresh.payments.sandbox import make_sandbox_app
from fresh.settings import SandboxSettings, load_settings
from tests.conftest import TEST_DB, TEST_REDIS_DB
from tests.helpers import free_ports


@dataclass
class Deployment:
    layout: deploy.Layout
    env: dict
    keys: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.layout.public_port}"

    def app_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.layout.app_ports[index]}"

    def program(self, index: int) -> str:
        return f"dailyfresh:app-{self.layout.app_ports[index]}"

    def ctl(self, *args: str) -> str:
        return deploy.supervisorctl(self.layout, *args).stdout

    def pid(self, index: int) -> int:
        return int(self.ctl("pid", self.program(index)).strip())

    def log(self, name: str) -> str:
        path = self.layout.log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def app_logs(self) -> str:
        return "".join(self.log(f"app-{port}.log") for port in self.layout.app_ports)

    def wait_running(self, index: int, *, other_than: int | None = None, timeout: float = 60) -> int:
        """Until supervisor runs the instance again (under a new pid when `other_than` is given) and it is ready."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.ctl("status", self.program(index))
            if "RUNNING" in status:
                pid = self.pid(index)
                if pid != other_than and deploy.answers(f"{self.app_url(index)}/readyz"):
                    return pid
            assert time.monotonic() < deadline, f"{self.program(index)} not back: {status}"
            time.sleep(0.2)


def deployment_env(var: Path, keys: Path, sandbox_port: int) -> dict:
    """The environment `make up` would run in, pointed at the test database, Redis db and a private var dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESH_")}
    env.update({
        "FRESH_CONFIG": "/nonexistent",  # never this checkout's conf/fresh.toml
        "FRESH_MODE": "test",
        "FRESH_VAR_DIR": str(var),
        "FRESH_WEB_COOKIE_SECRET": "deploy-test-secret-" + "y" * 40,
        "FRESH_DB_NAME": TEST_DB,
        "FRESH_REDIS_URL": f"redis://127.0.0.1:6379/{TEST_REDIS_DB}",
        "FRESH_ACCOUNTS_ARGON2_TIME_COST": "1",
        "FRESH_ACCOUNTS_ARGON2_MEMORY_KIB": "1024",
        "FRESH_ACCOUNTS_ARGON2_PARALLELISM": "1",
    })
    for section, values in local_gateway_settings(keys, sandbox_port).items():
        for key, value in values.items():
            env[f"FRESH_{section}_{key}".upper()] = str(value)
    return env


@pytest.fixture(scope="package")
def deployment(tmp_path_factory, pool) -> Deployment:
    """Two app processes, the sandbox and nginx under supervisord, as `make up` starts them (pool: the test
    database exists and is migrated before the processes connect). Package-scoped: stopped after this package's
    last test, before their background work (the payment watcher, the expiry) could touch other tests' rows."""
    var = tmp_path_factory.mktemp("deploy") / "var"
    keys = var / "keys"
    ensure_dev_keys(keys)
    app_a, app_b, public, sandbox = free_ports(4)
    env = deployment_env(var, keys, sandbox)
    cfg = load_settings(path="/nonexistent", env=env)
    layout = deploy.make_layout(cfg, app_ports=[app_a, app_b], public_port=public, listen_host="127.0.0.1")
    deploy.render(layout)
    deploy.nginx_test(layout)
    pid = deploy.start(layout, env=env)
    try:
        deploy.wait_ready(layout, timeout=90)
        yield Deployment(layout, env, keys)
    finally:
        try:
            deploy.stop(layout, timeout=60)
        finally:
            if deploy.supervisord_pid(layout) == pid:  # never anyone else's
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="package")
def signer(deployment):
    """The sandbox's signing half (same keys as the supervised sandbox), to forge nothing but sign notifies."""
    keys = deployment.keys
    return make_sandbox_app(SandboxSettings(private_key=str(keys / "sandbox_private.pem"),
                                            app_public_key=str(keys / "app_public.pem")))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=60)
