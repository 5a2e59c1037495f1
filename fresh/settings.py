"""Settings: defaults < conf/fresh.toml (or FRESH_CONFIG) < FRESH_<SECTION>_<KEY> environment variables.

One frozen dataclass tree, validated once at startup and passed in; nothing imports a global settings object.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
MODES = ("development", "test", "production")
# The shop's own MariaDB account, which the bootstrap (fresh/bootstrap.py) creates.
DB_ACCOUNT = "dailyfresh"


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Public base URL of the shop, used in mails and in Alipay notify/return URLs.
    base_url: str = "http://127.0.0.1:8000"
    cookie_secret: str = ""
    # Behind nginx: take the client's address and scheme from X-Real-IP / X-Forwarded-For / X-Forwarded-Proto,
    # but only on connections from one of trusted_proxies (comma-separated addresses), never from anyone else.
    xheaders: bool = False
    trusted_proxies: str = "127.0.0.1,::1"
    # On SIGTERM: seconds to let in-flight requests finish before the process exits (below supervisor's
    # stopwaitsecs, so a stop never ends in SIGKILL).
    drain_timeout: float = 5.0
    # Mark cookies Secure (behind https).
    secure_cookies: bool = False
    max_body_size: int = 1024 * 1024
    # Request bodies under /admin/ (picture uploads, at most 2 MB each, plus the form) may be this large.
    max_upload_size: int = 3 * 1024 * 1024
    # Longest request target (HTTP 414 above) and largest header block (HTTP 431 above), in bytes.
    max_url_length: int = 64 * 1024
    max_header_size: int = 64 * 1024
    # Seconds a connection may sit idle or take to send its headers (slow senders included), and to send a body.
    idle_connection_timeout: float = 30.0
    body_timeout: float = 60.0
    # Connections the kernel queues for accept() (capped by net.core.somaxconn): a burst of shoppers larger than
    # this is refused or retried by the kernel before the shop sees it (Tornado's own default is 128).
    backlog: int = 1024
    debug: bool = False


@dataclass(frozen=True)
class DBSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    # Empty user and password: the shop's own account `dailyfresh` with the password the bootstrap generated once
    # into `password_file`. A checkout where the bootstrap never ran (no such file) logs in as root without a
    # password, which machines like this project's CI accept; production refuses that.
    user: str = ""
    password: str = ""
    password_file: str = "var/db_password"
    name: str = "dailyfresh"
    pool_min: int = 1
    pool_max: int = 20
    # The sibling pool of connections that accept several statements per packet, for batched transactions only
    # (fresh/db.py): order commits and payments. Opened as needed, up to this many (as many as the one pool gave
    # the order commit before the split: at 10 its hot-SKU rate fell, BENCHMARKS.md).
    batch_pool_max: int = 20
    connect_timeout: float = 5.0
    # Server-side limit for one statement (MariaDB max_statement_time), and for waiting on a row lock.
    statement_timeout: float = 10.0
    lock_wait_timeout: int = 5
    # Client-side limits: taking a connection from the pool, and holding one for a statement or a transaction
    # (a stalled server answers 503 after this instead of holding the request; the connection is dropped).
    acquire_timeout: float = 5.0
    query_timeout: float = 8.0
    # A replica for reads that may lag (catalog pages, search, the back office's reports), as a DSN:
    # mysql://user:password@host:3306/dailyfresh. The user, password and database left out are the primary's.
    # Empty: every read and write uses the primary. See replica_settings() and fresh/replica.py.
    replica: str = ""
    # Seconds a replica statement (or taking a replica connection) may take before the read goes to the primary,
    # and seconds the replica is then left alone before it is tried again.
    replica_timeout: float = 2.0
    replica_retry: float = 10.0
    # Seconds_Behind_Master above which (or unknown: replication stopped) reads leave the replica until it catches
    # up, checked every few seconds by each process; the shop's account needs SLAVE MONITOR on the replica for it.
    # 0: not checked (lag is then only the operator's to watch).
    replica_max_lag: float = 0.0


@dataclass(frozen=True)
class RedisSettings:
    # The URL carries the scheme (redis://, rediss:// for TLS, unix:///path/to/socket?db=N), the password and the
    # database number; tests use their own. TLS files go in its query: ?ssl_ca_certs=/path/ca.pem (also
    # ssl_certfile, ssl_keyfile, ssl_cert_reqs, ssl_check_hostname: REDIS_URL_OPTIONS).
    url: str = "redis://127.0.0.1:6379/0"
    timeout: float = 5.0
    max_connections: int = 200
    # Redis Sentinel: comma-separated host:port of the Sentinels; empty = the URL's host and port are the server.
    # With Sentinels every connection asks them for the primary of service_name (the URL's host and port are then
    # unused) and follows a failover without a restart. They are spoken to with the URL's scheme (rediss: TLS).
    sentinels: str = ""
    service_name: str = "dailyfresh"
    # Sentinel's own requirepass (not the servers'), and the timeout of one question to one Sentinel.
    sentinel_password: str = ""
    sentinel_timeout: float = 1.0
    # The hottest commands share one pipelined connection (fresh/redis_client.Lane; BENCHMARKS.md: cart add 39% ->
    # 57-62% of the bare POST). It follows Sentinel, TLS and unix sockets too; false sends them through redis-py's
    # pool like every other command.
    lane: bool = True


@dataclass(frozen=True)
class AccountsSettings:
    activation_ttl: int = 3600
    session_ttl_days: int = 14
    # Throttles (Redis counters shared by every process): failed logins per username and per IP (across
    # usernames) within login_window; registrations and activation resends per IP and per email within
    # signup_window. Refusals answer 429 with Retry-After before any password is hashed or mail sent.
    login_max_failures: int = 5
    login_ip_max_failures: int = 20
    login_window: int = 900
    register_ip_max: int = 10
    register_email_max: int = 3
    resend_ip_max: int = 5
    resend_email_max: int = 3
    signup_window: int = 3600
    # Password hashes running at once per process, and how many more may wait before 503 (a login flood must
    # not take every executor thread and the CPU from other requests).
    hash_concurrency: int = 2
    hash_queue: int = 32
    # argon2id cost; the defaults are argon2-cffi's. Tests lower them.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4


@dataclass(frozen=True)
class MailSettings:
    # Empty smtp_host: mails are written to <var_dir>/outbox as .eml files.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_timeout: float = 10.0
    sender: str = "天天生鲜 <noreply@dailyfresh.local>"


@dataclass(frozen=True)
class CatalogSettings:
    page_size: int = 12
    # Seconds a process reuses the rendered index (catalog writes invalidate at once).
    index_cache_ttl: int = 3600
    history_size: int = 5
    # Seconds a process reuses a rendered detail page (stock and comments shown may be this old; catalog writes
    # invalidate at once). 0 turns the cache off.
    page_cache_ttl: float = 5.0
    # auto: full-text search on Mroonga when the sku_search table has it, else LIKE; like: always LIKE.
    search: str = "auto"
    # Behind nginx: the file the anonymous index is rendered to at every catalog change (one process does it,
    # chosen by a Redis lease), for nginx to serve to visitors without a session. Empty: no file.
    static_index: str = ""


@dataclass(frozen=True)
class CartSettings:
    max_count: int = 999
    guest_ttl_days: int = 30
    # Seconds a process reuses a SKU's stock for the add's advisory cap (orders check stock for real).
    sku_cache_ttl: float = 5.0


@dataclass(frozen=True)
class OrdersSettings:
    # atomic | pessimistic | optimistic (DESIGN.md section 6).
    stock_strategy: str = "atomic"
    transit_price: Decimal = Decimal("10.00")
    expire_minutes: int = 30
    expiry_interval: float = 30.0
    # Due orders listed per query and closed at once (each close may wait on the gateway).
    expiry_batch: int = 200
    expiry_concurrency: int = 20
    # After the gateway could not stop an order's payment: retry in backoff * 2^attempts seconds, at most the max.
    expiry_backoff: float = 30.0
    expiry_backoff_max: float = 600.0


@dataclass(frozen=True)
class AlipaySettings:
    # The local sandbox by default; Alipay's sandbox is
    # https://openapi-sandbox.dl.alipaydev.com/gateway.do and production https://openapi.alipay.com/gateway.do.
    gateway: str = "http://127.0.0.1:8100/gateway.do"
    app_id: str = "2021000000000001"
    seller_id: str = "2088000000000001"
    # PEM files; relative paths are under the project root. Dev keys are generated into var/keys/.
    app_private_key: str = "var/keys/app_private.pem"
    alipay_public_key: str = "var/keys/sandbox_public.pem"
    timeout: float = 10.0
    watch_interval: float = 2.0
    watch_max_backoff: float = 60.0
    # A refund request Alipay could not confirm is sent again in refund_backoff * 2^attempts seconds, at most the max.
    refund_backoff: float = 5.0
    refund_backoff_max: float = 600.0


@dataclass(frozen=True)
class SandboxSettings:
    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = "http://127.0.0.1:8100"
    app_id: str = "2021000000000001"
    seller_id: str = "2088000000000001"
    private_key: str = "var/keys/sandbox_private.pem"
    app_public_key: str = "var/keys/app_public.pem"
    # Seconds between notify attempts (Alipay: 4m,10m,10m,1h,2h,6h,15h); comma-separated.
    notify_schedule: str = "1,2,5,10,30"
    # Test knobs: never deliver notifies, deliver each twice, wait before the first one.
    drop_notifies: bool = False
    duplicate_notifies: bool = False
    notify_delay: float = 0.0


@dataclass(frozen=True)
class LogSettings:
    # text: readable lines (make run); json: one JSON object per line, for a log shipper (FRESH_LOG_FORMAT=json).
    format: str = "text"
    level: str = "INFO"


@dataclass(frozen=True)
class MetricsSettings:
    # Comma-separated networks whose direct connections may read /metrics. A request relayed by a proxy (one that
    # carries X-Forwarded-For or X-Real-IP, as nginx's do) is refused whatever its address.
    allow: str = "127.0.0.0/8,::1/128"


@dataclass(frozen=True)
class Settings:
    mode: str = "development"
    var_dir: str = "var"
    web: WebSettings = field(default_factory=WebSettings)
    db: DBSettings = field(default_factory=DBSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    accounts: AccountsSettings = field(default_factory=AccountsSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    cart: CartSettings = field(default_factory=CartSettings)
    orders: OrdersSettings = field(default_factory=OrdersSettings)
    alipay: AlipaySettings = field(default_factory=AlipaySettings)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    log: LogSettings = field(default_factory=LogSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @property
    def var_path(self) -> Path:
        return resolve_path(self.var_dir)

    @property
    def production(self) -> bool:
        return self.mode == "production"


def allowed_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of a comma-separated list such as `metrics.allow` (ValueError for a malformed one)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


# Query parameters of redis.url the shop passes on (redis-py's names); any other is refused.
REDIS_URL_OPTIONS = ("db", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")


def sentinel_addresses(value: str) -> tuple[tuple[str, int], ...]:
    """The (host, port) pairs of a comma-separated `redis.sentinels` (ValueError for a malformed one)."""
    addresses = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        host = host.strip("[]")  # [::1]:26379
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r} is not host:port")
        addresses.append((host, int(port)))
    return tuple(addresses)


def check_redis_url(url: str) -> None:
    """ValueError unless `url` is a redis://, rediss:// or unix:// URL the shop can use."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"the scheme must be redis://, rediss:// or unix://, not {parts.scheme or 'none'}")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError("a unix:// URL needs the socket's path, e.g. unix:///run/redis/redis.sock?db=0")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed one
    except ValueError:
        raise ValueError("the port is not a number") from None
    db = parts.path.strip("/") if parts.scheme != "unix" else ""
    if db and not db.isdigit():
        raise ValueError(f"the path must be the database number, not {parts.path!r}")
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in REDIS_URL_OPTIONS:
            raise ValueError(f"unknown option {name!r} (known: {', '.join(REDIS_URL_OPTIONS)})")
        if name.startswith("ssl_") and parts.scheme != "rediss":
            raise ValueError(f"{name} is for TLS: the URL must be rediss://")
        if name == "db" and not value.isdigit():
            raise ValueError(f"db must be a number, not {value!r}")
        if name == "ssl_cert_reqs" and value not in ("none", "optional", "required"):
            raise ValueError("ssl_cert_reqs must be none, optional or required")


def resolve_path(value: str) -> Path:
    """Resolve a configured path; relative ones are taken from the project root."""
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


def _coerce(value, kind, name: str):
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind is Decimal:
            return Decimal(str(value))
        return kind(value)
    except (ValueError, TypeError, InvalidOperation):
        raise SettingsError(f"{name}: cannot read {value!r} as {kind.__name__}") from None


def _build(cls, values: dict, env: dict, prefix: str):
    kwargs = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        env_name = f"{prefix}_{f.name}".upper()
        if dataclasses.is_dataclass(default):
            section = values.get(f.name, {})
            if not isinstance(section, dict):
                raise SettingsError(f"[{f.name}] must be a table")
            kwargs[f.name] = _build(type(default), section, env, env_name)
            continue
        raw = values.get(f.name, default)
        if env_name in env:
            raw = env[env_name]
        kwargs[f.name] = _coerce(raw, type(default), env_name)
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise SettingsError(f"unknown settings under {prefix}: {', '.join(sorted(unknown))}")
    return cls(**kwargs)


def load_settings(path: str | None = None, env: dict | None = None, *, resolve_db_login: bool = True,
                  **overrides) -> Settings:
    """Load and validate the settings; `overrides` are sections of dicts, as in the TOML file.

    `resolve_db_login=False` (the bootstrap) leaves db.user and db.password as configured, empty or not."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("FRESH_CONFIG") or str(ROOT / "conf" / "fresh.toml")
    values: dict = {}
    if Path(path).is_file():
        with open(path, "rb") as fh:
            values = tomllib.load(fh)
    for key, value in overrides.items():
        if isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        else:
            values[key] = value
    settings = _build(Settings, values, env, "FRESH")
    return _validate(settings, resolve_db_login=resolve_db_login)


def _validate(settings: Settings, *, resolve_db_login: bool = True) -> Settings:
    if settings.mode not in MODES:
        raise SettingsError(f"mode must be one of {', '.join(MODES)}")
    if settings.catalog.search not in ("auto", "like"):
        raise SettingsError("catalog.search must be auto or like")
    if settings.orders.stock_strategy not in ("atomic", "pessimistic", "optimistic"):
        raise SettingsError("orders.stock_strategy must be atomic, pessimistic or optimistic")
    if settings.db.query_timeout <= settings.db.lock_wait_timeout:
        raise SettingsError("db.query_timeout must be longer than db.lock_wait_timeout")
    if settings.db.replica_timeout <= 0 or settings.db.replica_retry <= 0:
        raise SettingsError("db.replica_timeout and db.replica_retry must be positive")
    if settings.db.replica_max_lag < 0:
        raise SettingsError("db.replica_max_lag must not be negative (0: not checked)")
    replica_settings(settings.db)  # a malformed db.replica is refused at start, not at the first catalog page
    if settings.log.format not in ("text", "json"):
        raise SettingsError("log.format must be text or json")
    if settings.log.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError("log.level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    try:
        allowed_networks(settings.metrics.allow)
    except ValueError as exc:
        raise SettingsError(f"metrics.allow: {exc}") from None
    _validate_redis(settings.redis)
    if settings.orders.transit_price < 0:
        raise SettingsError("orders.transit_price must not be negative")
    if not settings.web.cookie_secret:
        if settings.production:
            raise SettingsError("web.cookie_secret is required in production (FRESH_WEB_COOKIE_SECRET)")
        secret = _dev_secret(settings.var_path / "cookie_secret")
        settings = dataclasses.replace(settings, web=dataclasses.replace(settings.web, cookie_secret=secret))
    if len(settings.web.cookie_secret) < 32:
        raise SettingsError("web.cookie_secret must be at least 32 characters")
    if not resolve_db_login:
        return settings
    return dataclasses.replace(settings, db=_db_login(settings.db, production=settings.production))


REPLICA_SCHEMES = ("mysql", "mariadb")


def replica_settings(cfg: DBSettings) -> DBSettings | None:
    """The connection settings of the replica `cfg.replica` names (None when it names none): its host, port and
    whichever of user, password and database the DSN gives; everything else, limits included, as the primary's
    (whose login is the shop's own account and var/db_password unless configured otherwise).

    Raises SettingsError for a malformed DSN; the message never repeats the DSN, which may hold a password."""
    dsn = cfg.replica.strip()
    if not dsn:
        return None
    shape = "db.replica must look like mysql://user:password@host:3306/dailyfresh"
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError:  # a port that is not a number in range, or an unclosed [IPv6 address
        port = -1
    if port is not None and not 0 < port < 65536:
        raise SettingsError(f"{shape}: the host or port cannot be read (the port is a number from 1 to 65535)")
    if parts.scheme not in REPLICA_SCHEMES:
        raise SettingsError(f"{shape}: the scheme must be mysql:// or mariadb://")
    if not parts.hostname:
        raise SettingsError(f"{shape}: the host is missing")
    if parts.query or parts.fragment:
        raise SettingsError(f"{shape}: options (?...) are not read; use the [db] settings")
    name = unquote(parts.path.lstrip("/"))
    if "/" in name:
        raise SettingsError(f"{shape}: the path is the database name alone")
    replaced = {"host": parts.hostname, "port": port or 3306, "replica": ""}
    if parts.username:
        replaced["user"] = unquote(parts.username)
    if parts.password is not None:
        replaced["password"] = unquote(parts.password)
    if name:
        replaced["name"] = name
    return dataclasses.replace(cfg, **replaced)


def _validate_redis(cfg: RedisSettings) -> None:
    try:
        check_redis_url(cfg.url)
    except ValueError as exc:
        raise SettingsError(f"redis.url: {exc}") from None
    try:
        sentinels = sentinel_addresses(cfg.sentinels)
    except ValueError as exc:
        raise SettingsError(f"redis.sentinels: {exc} (expected host:port,host:port)") from None
    if sentinels and cfg.url.startswith("unix:"):
        raise SettingsError("redis.sentinels: Sentinel names the primary by host and port, so redis.url must be"
                            " redis:// or rediss://, not unix://")
    if not cfg.service_name.strip():
        raise SettingsError("redis.service_name must not be empty")
    for name in ("timeout", "sentinel_timeout"):
        if getattr(cfg, name) <= 0:
            raise SettingsError(f"redis.{name} must be positive")
    if cfg.max_connections < 1:
        raise SettingsError("redis.max_connections must be at least 1")


def _db_login(cfg: DBSettings, *, production: bool) -> DBSettings:
    """Fill in the login when the configuration leaves it to the bootstrap (see DBSettings.user)."""
    if cfg.user:
        return cfg
    if cfg.password:
        return dataclasses.replace(cfg, user=DB_ACCOUNT)
    path = resolve_path(cfg.password_file)
    if path.is_file():
        return dataclasses.replace(cfg, user=DB_ACCOUNT, password=path.read_text().strip())
    if production:
        raise SettingsError(f"db.user and db.password are required in production (or {path} from the bootstrap)")
    return dataclasses.replace(cfg, user="root")


def _dev_secret(path: Path) -> str:
    """Generate the development cookie secret once into var/ (git-ignored)."""
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(secrets.token_urlsafe(48))
    os.chmod(tmp, 0o600)
    try:
        # link() refuses to overwrite, so two processes starting at once agree on one secret.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()
