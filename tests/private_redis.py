"""redis-server processes of the test's own: on a free port of 127.0.0.1 (or a unix socket), without persistence,
stopped or killed only by their PIDs; a Sentinel with `sentinel_conf`; TLS-only with `tls` (the certificates of
tests/redis_ha/conftest.py). A missing redis-server binary fails the tests that use one (never skips them)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import redis.asyncio as aioredis

from tests.helpers import end_process, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """One redis-server process (a Sentinel with `sentinel_conf`), its log in its folder. With `tls` it speaks
    only TLS (its port is the TLS port), replicates over TLS and wants client certificates from the CA."""

    def __init__(self, folder: Path, name: str = "redis", *args: str, sentinel_conf: str | None = None,
                 tls=None):
        self.folder = folder
        self.name = name
        self.port = free_port()
        self.args = args
        self.sentinel_conf = sentinel_conf
        self.tls = tls
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _listen(self) -> list[str]:
        if self.tls is None:
            return ["port", str(self.port)]
        return ["port", "0", "tls-port", str(self.port), "tls-cert-file", str(self.tls.server_cert),
                "tls-key-file", str(self.tls.server_key), "tls-ca-cert-file", str(self.tls.ca),
                "tls-replication", "yes"]

    def start(self) -> None:
        log = self.folder / f"{self.name}.log"
        listen = self._listen()
        if self.sentinel_conf is not None:
            conf = self.folder / f"{self.name}.conf"  # Sentinel rewrites its file as it learns the topology
            lines = [f"{listen[i]} {listen[i + 1]}" for i in range(0, len(listen), 2)]
            conf.write_text("\n".join([*lines, "bind 127.0.0.1", f"dir {self.folder}", self.sentinel_conf]))
            command = [REDIS_SERVER, str(conf), "--sentinel", "--logfile", str(log)]
        else:
            command = [REDIS_SERVER, *(f"--{a}" if i % 2 == 0 else a for i, a in enumerate(listen)),
                       "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder),
                       "--dbfilename", f"{self.name}.rdb", "--logfile", str(log), *self.args]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        end_process(self.proc, 10)

    def client(self, **kw) -> aioredis.Redis:
        if self.tls is not None:
            kw.update(ssl=True, ssl_ca_certs=str(self.tls.ca), ssl_certfile=str(self.tls.client_cert),
                      ssl_keyfile=str(self.tls.client_key))
        return aioredis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5,
                              socket_connect_timeout=5, **kw)
