"""Redis servers of the test's own for the Redis settings beyond one plain server: a primary with a replica and
three Sentinels, a TLS server with a throwaway CA, a server on a unix socket. Each runs on a free port of 127.0.0.1
(or a socket in a temporary directory), without persistence, and is stopped (or killed) only by its PID. A missing
redis-server binary fails these tests (never skips them)."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fresh import db
from fresh.redis_client import create_redis
from fresh.web import listen_live, make_app, server_options
from tests.conftest import make_settings
from tests.faults.conftest import wait_until
from tests.helpers import AppServer, Client, create_user
from tests.private_redis import PrivateRedis as Server

SERVICE = "dailyfresh"
# A failover within a few seconds: a primary silent for a second is down for a Sentinel.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10000
# Generous: the machine is shared, and nothing here asserts how fast anything is.
DEADLINE = 90.0


@dataclass
class Replicated:
    """A primary, its replica and three Sentinels watching them as SERVICE."""

    primary: Server
    replica: Server
    sentinels: list[Server]

    @property
    def sentinels_setting(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    async def primary_port(self) -> int:
        """The primary's port as the first Sentinel that answers names it."""
        for sentinel in self.sentinels:
            client = sentinel.client()
            try:
                _, port = await client.sentinel_get_master_addr_by_name(SERVICE)
                return int(port)
            except Exception:  # noqa: BLE001 - that Sentinel is not up: ask the next
                continue
            finally:
                await client.aclose()
        raise AssertionError("no Sentinel answered")


async def _replica_linked(replica: Server) -> bool:
    client = replica.client()
    try:
        return (await client.info("replication")).get("master_link_status") == "up"
    finally:
        await client.aclose()


async def _sentinels_ready(group: Replicated) -> bool:
    """Every Sentinel knows the replica and the two other Sentinels (needed before a failover can happen)."""
    for sentinel in group.sentinels:
        client = sentinel.client()
        try:
            master = await client.sentinel_master(SERVICE)
            if master["num-slaves"] < 1 or master["num-other-sentinels"] < 2:
                return False
        finally:
            await client.aclose()
    return await _replica_linked(group.replica)


async def _answers(server: Server) -> bool:
    client = server.client()
    try:
        return await client.ping()
    finally:
        await client.aclose()


@pytest.fixture
async def single(tmp_path):
    """One plain redis-server of the test's own."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = Server(folder, "single")
    server.start()
    try:
        await wait_until(lambda: _answers(server), "the redis-server")
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def _pair(folder: Path, tls: Certificates | None = None):
    primary = Server(folder, "primary", tls=tls)
    replica = Server(folder, "replica", "--replicaof", "127.0.0.1", str(primary.port), tls=tls)
    try:
        primary.start()
        replica.start()
        await wait_until(lambda: _replica_linked(replica), "a primary and its replica", timeout=DEADLINE)
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


@contextlib.asynccontextmanager
async def _watched(primary: Server, replica: Server):
    watch = (f"sentinel monitor {SERVICE} 127.0.0.1 {primary.port} 2\n"
             f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
             f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
             f"sentinel parallel-syncs {SERVICE} 1\n")
    sentinels = [Server(primary.folder, f"sentinel{i}", sentinel_conf=watch, tls=primary.tls) for i in range(3)]
    group = Replicated(primary, replica, sentinels)
    try:
        for sentinel in sentinels:
            sentinel.start()
        await wait_until(lambda: _sentinels_ready(group), "three Sentinels aware of the pair and each other",
                         timeout=DEADLINE)
        yield group
    finally:
        for sentinel in sentinels:
            sentinel.stop()


@pytest.fixture
async def pair(tmp_path):
    """(primary, replica): a redis-server and a replica of it, linked."""
    folder = tmp_path / "redis"
    folder.mkdir()
    async with _pair(folder) as servers:
        yield servers


@pytest.fixture
async def replicated(pair):
    """The pair watched by three Sentinels as SERVICE, all aware of each other."""
    async with _watched(*pair) as group:
        yield group


@pytest.fixture
async def tls_replicated(tmp_path):
    """The same over TLS only: servers, replication, Sentinels (client certificates from one throwaway CA)."""
    folder = tmp_path / "redis"
    folder.mkdir()
    certs = make_certificates(folder)
    async with _pair(folder, certs) as servers, _watched(*servers) as group:
        yield group


async def failed_over(group: Replicated) -> bool:
    """The Sentinels name the former replica as the primary, and it says it is one."""
    if await group.primary_port() != group.replica.port:
        return False
    client = group.replica.client()
    try:
        return (await client.execute_command("ROLE"))[0] == "master"
    finally:
        await client.aclose()


# --- TLS ---------------------------------------------------------------------------------------------------------

@dataclass
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_certificates(folder: Path) -> Certificates:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("dailyfresh test CA")).issuer_name(_name("dailyfresh test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    paths = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key", folder / "client.pem",
                         folder / "client.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for common, cert_path, key_path in (("127.0.0.1", paths.server_cert, paths.server_key),
                                        ("dailyfresh", paths.client_cert, paths.client_key)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
    return paths


def tls_url(certs: Certificates, port: int, db_number: int = 0, *, client_cert: bool = True, ca: bool = True,
            host: str = "127.0.0.1") -> str:
    """A rediss:// URL with the test CA and client certificate (or without either) in its query."""
    query = []
    if ca:
        query.append(f"ssl_ca_certs={certs.ca}")
    if client_cert:
        query += [f"ssl_certfile={certs.client_cert}", f"ssl_keyfile={certs.client_key}"]
    return f"rediss://{host}:{port}/{db_number}?{'&'.join(query)}"


@pytest.fixture
async def tls_redis(tmp_path):
    """redis-server speaking only TLS, requiring a client certificate from its CA."""
    folder = tmp_path / "tls"
    folder.mkdir()
    server = Server(folder, "tls", tls=make_certificates(folder))
    server.start()
    try:
        await wait_until(lambda: _answers(server), "the TLS redis-server")
        yield server
    finally:
        server.stop()


@pytest.fixture
async def unix_redis(tmp_path):
    """redis-server on a unix socket only; its unix:// URL."""
    folder = tmp_path / "unix"
    folder.mkdir()
    socket_path = folder / "redis.sock"
    server = Server(folder, "unix", "--unixsocket", str(socket_path), "--unixsocketperm", "700")
    server.args = ("--port", "0", *server.args)
    server.start()
    try:
        async def answers():
            client = aioredis.Redis(unix_socket_path=str(socket_path))
            try:
                return await client.ping()
            finally:
                await client.aclose()

        await wait_until(answers, "the unix-socket redis-server")
        yield socket_path
    finally:
        server.stop()


# --- the shop on such a Redis ------------------------------------------------------------------------------------

class Shop:
    """The app served on a free port with given Redis settings, its live-status listener running."""

    def __init__(self, cfg, server: AppServer):
        self.cfg, self.server, self.app = cfg, server, server.app
        self.base_url = server.url

    @property
    def redis(self):
        return self.app.redis

    def client(self) -> Client:
        return Client(self.base_url)


@pytest.fixture
async def make_shop(tmp_path, pool):
    """A factory: make_shop(**redis_settings) -> Shop on the shared test MariaDB (closed at teardown)."""
    shops: list[Shop] = []

    async def make(**redis_section) -> Shop:
        server = AppServer()
        cfg = make_settings(tmp_path / f"shop{len(shops)}", server.port, redis=redis_section)
        server.serve(make_app(cfg, pool=pool, redis=create_redis(cfg.redis)), background=[listen_live],
                     **server_options(cfg))
        shop = Shop(cfg, server)
        shops.append(shop)
        return shop

    yield make
    for shop in shops:
        await shop.server.close()
        await shop.redis.aclose()


@pytest.fixture
async def sku_id(pool) -> int:
    """One SKU on sale with plenty of stock."""
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo, image) VALUES ('新鲜水果', 'fruit', '')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('水果', '')")
        await cur.execute(
            "INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, sales, status)"
            " VALUES (%s, %s, '红富士苹果', '', '11.50', '500g', '/static/img/veg.svg', 1000, 0, 1)",
            (type_id, cur.lastrowid))
        return cur.lastrowid


@pytest.fixture
async def shopper(pool, settings) -> str:
    """An active user's name (the password is the helpers' default)."""
    await create_user(pool, settings, "alice_01")
    return "alice_01"


async def add_to_cart(client: Client, sku_id: int, count: int = 1):
    return await client.post("/cart/add", {"sku_id": sku_id, "count": count})


class FakeSocket:
    """A websocket stand-in held by a shop's Broadcaster: what it was sent, and how often it was resynced."""

    def __init__(self):
        self.sent: list[dict] = []
        self.resyncs = 0

    def send_status(self, payload: dict) -> None:
        self.sent.append(payload)

    async def resync(self) -> None:
        self.resyncs += 1

    def close(self, code=None, reason=None) -> None:
        pass
