"""`make cluster-up` / `make cluster-down`: the shop on several machines, rehearsed on this one.

Each machine is a network namespace joined to a bridge in the root namespace (whose address on the bridge is how
this machine, its tests and a browser reach the shop):

    lb    nginx (and, outside production, the local Alipay sandbox)
    app1  app2   two app processes each, under supervisor
    db1   MariaDB primary (binary log on), Redis primary, a Sentinel
    db2   MariaDB replica of db1 (read-only), Redis replica, a Sentinel
    sn3   the third Sentinel

The configuration files are the ones `make up` renders (fresh/deploy.py: conf/supervisord.conf, nginx/nginx.conf,
nginx/fresh.conf) with each machine's addresses and settings filled in, which is what a real multi-machine deploy
uses; MariaDB, Redis and Sentinel run with the options written here. The file system is shared: every machine
keeps its files under <var>/cluster/<host>/; the uploaded media directory, which real machines would mount from
shared storage, is one directory linked into each.

Needs root (`ip netns`). Namespace and link names carry a random prefix and the subnet is a free private /24, so
two runs never collide; `cluster-down` stops every process in the namespaces and removes them and the bridge.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fresh import deploy
from fresh.bootstrap import PRIVILEGES
from fresh.keys import ensure_dev_keys, local_gateway_settings
from fresh.settings import ROOT

# Host -> the last byte of its address in the cluster's /24 (.1 is the root namespace, on the bridge).
HOSTS: dict[str, int] = {"lb": 10, "app1": 11, "app2": 12, "db1": 21, "db2": 22, "sn3": 23}
APP_HOSTS = ("app1", "app2")
SENTINEL_HOSTS = ("db1", "db2", "sn3")
APP_PORTS = (8001, 8002)
HTTP_PORT = 80
SANDBOX_PORT = 8100
MYSQL_PORT, REDIS_PORT, SENTINEL_PORT = 3306, 6379, 26379
SERVICE_NAME = "dailyfresh"
DB_NAME, DB_USER, REPL_USER = "dailyfresh", "dailyfresh", "replicator"
# Every cluster of this machine, one file each, so that a cluster whose test run was killed before it could take
# it down is found and taken down by the next `up`. A tmpfs directory: gone at reboot, with the namespaces.
REGISTRY = Path("/run/dailyfresh-clusters")
# Sentinel calls the primary down after this long without an answer; two of three must agree (the quorum).
DOWN_AFTER_MS = 1000
QUORUM = 2


class ClusterError(RuntimeError):
    """Something the rehearsal needs is missing or did not come up."""


@dataclass(frozen=True)
class Cluster:
    """Names and addresses of one run; saved in <var>/cluster.json so `cluster-down` finds them."""

    var: Path  # <var>/cluster
    prefix: str  # namespaces <prefix>-<host>, links <prefix><host>, bridge <prefix>br
    subnet: str
    # The process whose end ends the cluster (a test run), with its start time (pids are reused); None for one made
    # by `make cluster-up`, which lives until `make cluster-down`.
    owner: int | None = None
    owner_start: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    def addr(self, host: str) -> str:
        return str(self.network.network_address + HOSTS[host])

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def on(self, host: str) -> tuple[str, ...]:
        """The command prefix that runs a command on `host`."""
        return ("ip", "netns", "exec", self.ns(host))

    def link(self, host: str) -> str:
        return f"{self.prefix}{host}"  # the root side of the host's cable (at most 15 characters)

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    def dir(self, host: str) -> Path:
        return self.var / host

    @property
    def url(self) -> str:
        return f"http://{self.addr('lb')}/" if HTTP_PORT == 80 else f"http://{self.addr('lb')}:{HTTP_PORT}/"

    @property
    def sentinels(self) -> str:
        return ",".join(f"{self.addr(h)}:{SENTINEL_PORT}" for h in SENTINEL_HOSTS)

    def mysql_socket(self, host: str) -> Path:
        return self.dir(host) / "run" / "mysqld.sock"

    def save(self) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        state = {"prefix": self.prefix, "subnet": self.subnet, "owner": self.owner, "owner_start": self.owner_start}
        (self.var / "cluster.json").write_text(json.dumps(state) + "\n")
        REGISTRY.mkdir(mode=0o700, exist_ok=True)
        (REGISTRY / f"{self.prefix}.json").write_text(json.dumps({**state, "var": str(self.var)}) + "\n")

    @classmethod
    def load(cls, var: Path) -> Cluster | None:
        try:
            state = json.loads((var / "cluster.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(var=var, prefix=state["prefix"], subnet=state["subnet"], owner=state.get("owner"),
                   owner_start=state.get("owner_start", ""))


# --- small helpers ----------------------------------------------------------------------------------------------

def sh(*args: str, timeout: float = 60, check: bool = True, env: dict | None = None) -> str:
    """Run a command; its output, or ClusterError with its words when it fails."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{' '.join(args)}: no answer within {timeout:.0f}s") from None
    if check and result.returncode != 0:
        raise ClusterError(f"{' '.join(args)}: {(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def wait_until(what: str, check: Callable[[], bool], *, timeout: float = 60, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            hint = f"; see {log}" if log else ""
            raise ClusterError(f"{what}: not after {timeout:.0f}s{hint}")
        time.sleep(0.2)


def _used_networks() -> list[ipaddress.IPv4Network]:
    used = []
    for line in sh("ip", "-4", "-o", "addr", "show").splitlines() + sh("ip", "-4", "route", "show").splitlines():
        for word in line.split():
            if "/" in word or word[:1].isdigit():
                try:
                    used.append(ipaddress.IPv4Network(word, strict=False))
                except ValueError:
                    pass
    return used


def choose(var: Path) -> Cluster:
    """A fresh prefix and a /24 in 10.200.0.0/13 that no address or route of this machine overlaps."""
    used = _used_networks()
    existing = sh("ip", "netns", "list")
    for _ in range(100):
        prefix = "fc" + secrets.token_hex(2)
        if prefix in existing:
            continue
        subnet = ipaddress.IPv4Network(f"10.{random.randint(200, 207)}.{random.randint(0, 255)}.0/24")
        if not any(subnet.overlaps(net) for net in used if net.prefixlen > 0):
            return Cluster(var=var, prefix=prefix, subnet=str(subnet))
    raise ClusterError("no free private /24 found")


# --- the network ------------------------------------------------------------------------------------------------

def network_up(c: Cluster) -> None:
    """The bridge (with the root namespace's address on it) and one namespace per host, cabled to it."""
    sh("ip", "link", "add", c.bridge, "type", "bridge")
    sh("ip", "addr", "add", f"{c.gateway}/{c.network.prefixlen}", "dev", c.bridge)
    sh("ip", "link", "set", c.bridge, "up")
    for host in HOSTS:
        ns, link, inner = c.ns(host), c.link(host), f"{c.link(host)}x"
        sh("ip", "netns", "add", ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", link, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "name", "eth0")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{c.addr(host)}/{c.network.prefixlen}", "dev", "eth0")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up")
        sh("ip", "link", "set", link, "master", c.bridge)
        sh("ip", "link", "set", link, "up")


def set_link(c: Cluster, host: str, up: bool) -> None:
    """Plug or unplug the host's cable (its side of the veth pair in the root namespace)."""
    sh("ip", "link", "set", c.link(host), "up" if up else "down")


def _namespace_pids(c: Cluster, host: str) -> list[int]:
    out = sh("ip", "netns", "pids", c.ns(host), check=False)
    return [int(word) for word in out.split() if word.isdigit()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie has exited; it only waits for its parent.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def stop_host(c: Cluster, host: str, *, timeout: float = 30) -> None:
    """End every process on the host: supervisor's programs through supervisor (they drain), the rest by pid."""
    # A reaped cluster's files may be gone with its test run's temporary directory: then its processes go by pid.
    layout = host_layouts(c).get(host) if c.var.is_dir() else None
    if layout is not None and deploy.supervisord_pid(layout) is not None:
        try:
            deploy.stop(layout, timeout=timeout)
        except (deploy.DeployError, subprocess.SubprocessError, OSError):
            pass
    pids = _namespace_pids(c, host)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in _namespace_pids(c, host):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def process_start(pid: int) -> str:
    """When the process started (clock ticks since boot, /proc/<pid>/stat), or "" when it has ended."""
    if not _alive(pid):
        return ""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def reap_orphans() -> list[str]:
    """Take down every registered cluster whose owner has ended (a test run killed before its teardown); the
    prefixes of those taken down. Clusters without an owner (`make cluster-up`) are left alone."""
    reaped = []
    for entry in sorted(REGISTRY.glob("*.json")) if REGISTRY.is_dir() else []:
        try:
            state = json.loads(entry.read_text())
        except (OSError, ValueError):
            continue
        owner = state.get("owner")
        if owner is None or process_start(owner) == state.get("owner_start"):
            continue
        _teardown(Cluster(var=Path(state["var"]), prefix=state["prefix"], subnet=state["subnet"]))
        reaped.append(state["prefix"])
    return reaped


def down(var: Path) -> bool:
    """Stop everything of the run saved under `var` and remove its namespaces and bridge; False if none."""
    c = Cluster.load(var)
    if c is None:
        return False
    _teardown(c)
    return True


def _teardown(c: Cluster) -> None:
    """Stop the cluster's processes, remove its namespaces, links and bridge, and forget it (its saved state and
    its registry entry)."""
    namespaces = sh("ip", "netns", "list", check=False)
    # The shop first (it drains), then what it uses.
    for host in ("lb", "app1", "app2", "sn3", "db2", "db1"):
        if c.ns(host) in namespaces:
            stop_host(c, host)
    for host in HOSTS:
        if c.ns(host) in namespaces:
            sh("ip", "netns", "del", c.ns(host), check=False)
        sh("ip", "link", "del", c.link(host), check=False)  # gone with the namespace, unless half made
    sh("ip", "link", "del", c.bridge, check=False)
    (c.var / "cluster.json").unlink(missing_ok=True)
    (REGISTRY / f"{c.prefix}.json").unlink(missing_ok=True)


# --- processes that are not under supervisor (the databases) ----------------------------------------------------

def spawn(c: Cluster, host: str, name: str, argv: list[str]) -> int:
    """Start a server on the host in the background, its output in <host>/log/<name>.log; its pid.

    A shell starts it and exits, so the server is nobody's child here (init reaps it), as a daemon would be."""
    log_dir, run_dir = c.dir(host) / "log", c.dir(host) / "run"
    log_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    script = f'setsid "$@" >>{shlex.quote(str(log_dir / f"{name}.log"))} 2>&1 </dev/null & echo $!'
    pid = int(sh(*c.on(host), "sh", "-c", script, "sh", *argv, timeout=30).strip())
    (run_dir / f"{name}.pid").write_text(f"{pid}\n")
    return pid


def pid_of(c: Cluster, host: str, name: str) -> int | None:
    try:
        pid = int((c.dir(host) / "run" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def kill(c: Cluster, host: str, name: str, sig: int = signal.SIGKILL, *, timeout: float = 30) -> None:
    """Signal one of the host's servers (SIGKILL: it dies as a machine losing power would) and wait for its end."""
    pid = pid_of(c, host, name)
    if pid is None:
        raise ClusterError(f"{name} is not running on {host}")
    os.kill(pid, sig)
    wait_until(f"{name} on {host} ends", lambda: not _alive(pid), timeout=timeout)


def root_sql(c: Cluster, host: str, sql: str, *, timeout: float = 30) -> str:
    """SQL as MariaDB's root over the host's unix socket (a file: reachable from any namespace)."""
    return sh("mariadb", "--no-defaults", f"--socket={c.mysql_socket(host)}", "--user=root", "--batch", "--raw",
              "--skip-column-names", "-e", sql, timeout=timeout)


def mariadb_argv(c: Cluster, host: str, server_id: int) -> list[str]:
    d = c.dir(host)
    argv = [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", f"--datadir={d / 'mysql'}",
            f"--socket={c.mysql_socket(host)}", f"--port={MYSQL_PORT}", f"--bind-address={c.addr(host)}",
            f"--pid-file={d / 'run' / 'mysqld.pid'}", "--skip-name-resolve", f"--server-id={server_id}",
            # Row-based binary log with GTIDs: the replica follows, and can itself be promoted (log-slave-updates).
            f"--log-bin={d / 'mysql' / 'binlog'}", "--binlog-format=ROW", "--log-slave-updates",
            f"--relay-log={d / 'mysql' / 'relay'}", "--innodb-buffer-pool-size=64M", "--max-connections=400",
            # A transaction left open by an app machine that lost its network would hold its row locks (the
            # stock of the SKUs it was buying) until TCP gave up, hours later; the app never leaves one idle this
            # long (db.query_timeout is 8 s), so the server rolls it back.
            "--idle-transaction-timeout=15",
            f"--general-log-file={d / 'log' / 'general.log'}"]
    if host == "db2":
        argv += ["--read-only"]  # the replica: only the replication thread (and root) write
    if os.geteuid() == 0:
        argv += ["--user=root"]
    return argv


def start_mariadb(c: Cluster, host: str, *, wait: bool = True) -> None:
    """Start (or restart, after a stop) MariaDB on db1 or db2 with its data as it was; a replica resumes."""
    (c.dir(host) / "run").mkdir(parents=True, exist_ok=True)
    spawn(c, host, "mariadbd", mariadb_argv(c, host, {"db1": 1, "db2": 2}[host]))
    if wait:
        wait_until(f"MariaDB on {host}", lambda: _sql_answers(c, host), timeout=90,
                   log=c.dir(host) / "log" / "mariadbd.log")


def mariadb_up(c: Cluster, passwords: dict) -> None:
    """db1 primary with the shop's account (granted to the cluster's subnet), db2 its replica."""
    template = c.dir("db1") / "mysql"
    sh("mariadb-install-db", "--no-defaults", f"--datadir={template}", "--skip-test-db",
       "--auth-root-authentication-method=socket", *(["--user=root"] if os.geteuid() == 0 else []), timeout=180)
    shutil.copytree(template, c.dir("db2") / "mysql", symlinks=True)
    for host in ("db1", "db2"):
        start_mariadb(c, host, wait=False)
    for host in ("db1", "db2"):
        wait_until(f"MariaDB on {host}", lambda h=host: _sql_answers(c, h), timeout=90,
                   log=c.dir(host) / "log" / "mariadbd.log")
    subnet = f"{c.network.network_address}/{c.network.netmask}"
    account = f"'{DB_USER}'@'{subnet}'"
    repl = f"'{REPL_USER}'@'{c.addr('db2')}'"
    # Passwords are generated here (hex), never user input.
    root_sql(c, "db1", "; ".join([
        f"CREATE USER {account} IDENTIFIED BY '{passwords['db']}'",
        f"GRANT {', '.join(PRIVILEGES)} ON `{DB_NAME}`.* TO {account}",
        f"CREATE USER {repl} IDENTIFIED BY '{passwords['replication']}'",
        f"GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN ON *.* TO {repl}",
    ]))
    # From the start of db1's binary log (an empty GTID position): the account above reaches db2 too.
    root_sql(c, "db2", "; ".join([
        f"CHANGE MASTER TO MASTER_HOST='{c.addr('db1')}', MASTER_PORT={MYSQL_PORT}, MASTER_USER='{REPL_USER}',"
        f" MASTER_PASSWORD='{passwords['replication']}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
        "START SLAVE",
    ]))
    wait_replica_caught_up(c, timeout=60)


def _sql_answers(c: Cluster, host: str) -> bool:
    try:
        root_sql(c, host, "SELECT 1", timeout=5)
    except ClusterError:
        return False
    return True


def wait_replica_caught_up(c: Cluster, *, timeout: float = 60) -> None:
    """Until db2 has applied everything db1 has written so far."""
    position = root_sql(c, "db1", "SELECT @@gtid_binlog_pos").strip()
    if position:
        waited = root_sql(c, "db2", f"SELECT MASTER_GTID_WAIT('{position}', {int(timeout)})",
                          timeout=timeout + 10).strip()
        if waited != "0":
            status = root_sql(c, "db2", "SHOW SLAVE STATUS\\G")
            raise ClusterError(f"the replica did not catch up with {position}: {status[-1500:]}")


def start_redis(c: Cluster, host: str) -> None:
    """Start (or restart, after it died) the Redis server of db1 or db2 with its configuration file. A former
    primary comes back as one and is turned into a replica of the current primary by the Sentinels."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    spawn(c, host, "redis", [binary, str(c.dir(host) / "redis" / "redis.conf")])


def redis_up(c: Cluster) -> None:
    """Redis primary on db1, its replica on db2, and three Sentinels watching them."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    for host in ("db1", "db2"):
        d = c.dir(host) / "redis"
        d.mkdir(parents=True, exist_ok=True)
        lines = [f"bind {c.addr(host)}", f"port {REDIS_PORT}", "protected-mode no", "daemonize no",
                 f"dir {d}", "appendonly yes", "appendfsync everysec"]
        if host == "db2":
            lines += [f"replicaof {c.addr('db1')} {REDIS_PORT}"]
        (d / "redis.conf").write_text("\n".join(lines) + "\n")
        start_redis(c, host)
    for host in SENTINEL_HOSTS:
        d = c.dir(host) / "sentinel"
        d.mkdir(parents=True, exist_ok=True)
        # Sentinel rewrites its file (the other Sentinels, the replicas, the primary after a failover).
        (d / "sentinel.conf").write_text("\n".join([
            f"bind {c.addr(host)}", f"port {SENTINEL_PORT}", "protected-mode no", "daemonize no", f"dir {d}",
            f"sentinel monitor {SERVICE_NAME} {c.addr('db1')} {REDIS_PORT} {QUORUM}",
            f"sentinel down-after-milliseconds {SERVICE_NAME} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE_NAME} 10000",
            f"sentinel parallel-syncs {SERVICE_NAME} 1",
        ]) + "\n")
        spawn(c, host, "sentinel", [binary, str(d / "sentinel.conf"), "--sentinel"])
    for host in SENTINEL_HOSTS:
        wait_until(f"Sentinel on {host} sees the replica and the other Sentinels",
                   lambda h=host: _sentinel_ready(c, h), timeout=60, log=c.dir(host) / "log" / "sentinel.log")


def sentinel_master(c: Cluster, host: str) -> dict:
    """What the Sentinel on `host` says of the primary (SENTINEL MASTER)."""
    import redis

    client = redis.Redis(host=c.addr(host), port=SENTINEL_PORT, socket_timeout=2, socket_connect_timeout=2,
                         decode_responses=True)
    try:
        return client.sentinel_master(SERVICE_NAME)
    finally:
        client.close()


def redis_replication(c: Cluster, host: str) -> dict:
    """INFO replication of the Redis server on db1 or db2 (role, master_host, master_link_status, offsets)."""
    import redis

    client = redis.Redis(host=c.addr(host), port=REDIS_PORT, socket_timeout=2, socket_connect_timeout=2,
                         decode_responses=True)
    try:
        return client.info("replication")
    finally:
        client.close()


def redis_report(c: Cluster, *, lines: int = 25) -> str:
    """What an operator looks at when a failover goes wrong: each server's replication state and the last
    events each Sentinel logged."""
    import redis

    out = []
    for host in ("db1", "db2"):
        try:
            info = redis_replication(c, host)
            state = {k: info.get(k) for k in ("role", "master_host", "master_link_status", "master_sync_in_progress",
                                               "connected_slaves", "master_repl_offset")}
        except redis.RedisError as exc:
            state = {"error": str(exc)}
        out.append(f"redis on {host} ({c.addr(host)}): {state}")
    for host in SENTINEL_HOSTS:
        log = c.dir(host) / "log" / "sentinel.log"
        tail = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
        out.append(f"sentinel on {host}, last events:")
        out += [f"  {line}" for line in tail if line.strip()]
    return "\n".join(out)


def redis_primary(c: Cluster) -> str:
    """The address the Sentinels agree on as the Redis primary."""
    import redis

    seen = set()
    for host in SENTINEL_HOSTS:
        try:
            seen.add(sentinel_master(c, host)["ip"])
        except redis.RedisError:
            continue
    if len(seen) != 1:
        raise ClusterError(f"the Sentinels disagree on the primary: {sorted(seen)}")
    return seen.pop()


def _sentinel_ready(c: Cluster, host: str) -> bool:
    import redis

    try:
        master = sentinel_master(c, host)
    except redis.RedisError:
        return False
    return int(master.get("num-slaves", 0)) >= 1 and int(master.get("num-other-sentinels", 0)) >= 2


# --- the shop's machines ----------------------------------------------------------------------------------------

def keys_dir(c: Cluster) -> Path:
    return c.var / "keys"


def host_settings(c: Cluster, host: str) -> dict[str, str]:
    """The settings (FRESH_* variables) that differ per machine: where the others are. Secrets are apart."""
    keys = keys_dir(c)
    gateway = local_gateway_settings(keys, SANDBOX_PORT)
    lb = c.addr("lb")
    if host == "lb":
        sandbox = gateway["sandbox"]
        return {"FRESH_SANDBOX_HOST": lb, "FRESH_SANDBOX_PORT": str(SANDBOX_PORT),
                "FRESH_SANDBOX_PUBLIC_URL": f"http://{lb}:{SANDBOX_PORT}",
                "FRESH_SANDBOX_PRIVATE_KEY": sandbox["private_key"],
                "FRESH_SANDBOX_APP_PUBLIC_KEY": sandbox["app_public_key"],
                "FRESH_SANDBOX_NOTIFY_SCHEDULE": sandbox["notify_schedule"]}
    alipay = gateway["alipay"]
    return {
        "FRESH_WEB_HOST": c.addr(host),
        "FRESH_DB_HOST": c.addr("db1"), "FRESH_DB_PORT": str(MYSQL_PORT), "FRESH_DB_NAME": DB_NAME,
        "FRESH_DB_USER": DB_USER,
        # The primary's address is only where a client starts: Sentinel names the current primary.
        "FRESH_REDIS_URL": f"redis://{c.addr('db1')}:{REDIS_PORT}/0",
        "FRESH_REDIS_SENTINELS": c.sentinels, "FRESH_REDIS_SERVICE_NAME": SERVICE_NAME,
        "FRESH_ALIPAY_GATEWAY": f"http://{lb}:{SANDBOX_PORT}/gateway.do",
        "FRESH_ALIPAY_APP_PRIVATE_KEY": alipay["app_private_key"],
        "FRESH_ALIPAY_ALIPAY_PUBLIC_KEY": alipay["alipay_public_key"],
        "FRESH_ALIPAY_WATCH_INTERVAL": str(alipay["watch_interval"]),
    }


def host_layouts(c: Cluster) -> dict[str, deploy.Layout]:
    """The deploy layout of each machine that runs supervisor: the load balancer and the app machines."""
    lb = c.addr("lb")
    layouts = {"lb": deploy.Layout(
        var=c.dir("lb"), app_ports=(), public_port=HTTP_PORT, listen_host=lb, sandbox_port=SANDBOX_PORT,
        upstream_hosts=tuple(f"{c.addr(h)}:{p}" for h in APP_HOSTS for p in APP_PORTS),
        upstream_max_fails=1, upstream_fail_timeout=10, environment=tuple(host_settings(c, "lb").items()))}
    for host in APP_HOSTS:
        layouts[host] = deploy.Layout(
            var=c.dir(host), app_ports=APP_PORTS, app_host=c.addr(host), run_nginx=False,
            base_url=c.url.rstrip("/"), trusted_proxies=lb, environment=tuple(host_settings(c, host).items()))
    return layouts


def secrets_of(c: Cluster) -> dict:
    """The cluster's passwords and cookie secret, generated once into <var>/cluster/secrets.json (0600)."""
    path = c.var / "secrets.json"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(json.dumps({"db": secrets.token_hex(16), "replication": secrets.token_hex(16),
                                    "cookie": secrets.token_urlsafe(48)}))
    return json.loads(path.read_text())


def secret_env(c: Cluster, extra: dict | None = None) -> dict:
    """The environment supervisord (and a command run on an app machine) starts in: no FRESH_* of this shell, the
    secrets, and `extra` settings for every machine (tests pass theirs)."""
    pw = secrets_of(c)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESH_")}
    env.update({
        "FRESH_CONFIG": "/nonexistent",  # the machines' settings are all here, not in this checkout's file
        "FRESH_DB_PASSWORD": pw["db"],
        "FRESH_DB_REPLICA": f"mysql://{DB_USER}:{pw['db']}@{c.addr('db2')}:{MYSQL_PORT}/{DB_NAME}",
        "FRESH_WEB_COOKIE_SECRET": pw["cookie"],  # the same on every app machine: any of them reads any session
    })
    env.update(extra or {})
    return env


def run_on_app(c: Cluster, host: str, *args: str, extra: dict | None = None, timeout: float = 300) -> str:
    """`python -m fresh <args>` on an app machine, with its settings (migrate, seed...)."""
    env = {**secret_env(c, extra), **host_settings(c, host), "FRESH_VAR_DIR": str(c.dir(host))}
    return sh(*c.on(host), sys.executable, "-m", "fresh", *args, env=env, timeout=timeout)


def shop_up(c: Cluster, extra: dict | None = None) -> None:
    """Migrate and seed db1 through app1, then supervisor on the app machines and on lb."""
    ensure_dev_keys(keys_dir(c))
    media = c.var / "media"  # shared storage in a real deploy (uploaded pictures are served by nginx on lb)
    media.mkdir(parents=True, exist_ok=True)
    for host in ("lb", *APP_HOSTS):
        c.dir(host).mkdir(parents=True, exist_ok=True)
        (c.dir(host) / "media").symlink_to(media)
    run_on_app(c, "app1", "migrate", extra=extra)
    run_on_app(c, "app1", "seed", "--demo", extra=extra)
    env = secret_env(c, extra)
    layouts = host_layouts(c)
    for host in (*APP_HOSTS, "lb"):
        deploy.render(layouts[host])
    deploy.nginx_test(layouts["lb"], on=c.on("lb"))
    for host in (*APP_HOSTS, "lb"):
        deploy.start(layouts[host], env=env, on=c.on(host))
    for host in APP_HOSTS:
        for port in APP_PORTS:
            wait_until(f"app {host}:{port}", lambda h=host, p=port: deploy.answers(f"http://{c.addr(h)}:{p}/readyz"),
                       timeout=120, log=c.dir(host) / "log")
    wait_until("nginx on lb", lambda: deploy.answers(f"{c.url}healthz"), timeout=60, log=c.dir("lb") / "log")


def up(var: Path, *, extra: dict | None = None, owner: int | None = None) -> Cluster:
    """Bring the whole rehearsal up under `var` (wiped first); on any failure take down what was made. With
    `owner` (a pid), the next `up` after that process ends takes the cluster down if nothing else did."""
    if os.geteuid() != 0:
        raise ClusterError("network namespaces need root (run `make cluster-up` as root)")
    if Cluster.load(var) is not None:
        raise ClusterError(f"a cluster of {var} is up already: make cluster-down first")
    for tool in ("ip", "mariadbd", "mariadb-install-db", "mariadb", "redis-server"):
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()):
            raise ClusterError(f"{tool} is not installed")
    for prefix in reap_orphans():
        print(f"took down cluster {prefix}, left by a run that ended without taking it down", file=sys.stderr)
    if var.exists():
        shutil.rmtree(var)
    c = choose(var)
    if owner is not None:
        c = dataclasses.replace(c, owner=owner, owner_start=process_start(owner))
    c.save()
    try:
        network_up(c)
        mariadb_up(c, secrets_of(c))
        redis_up(c)
        shop_up(c, extra)
        wait_replica_caught_up(c)
    except BaseException:
        down(var)
        raise
    return c


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fresh.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--var", default=str(ROOT / "var" / "cluster"), help="where the machines keep their files")
    args = parser.parse_args(argv)
    var = Path(args.var).resolve()
    try:
        if args.command == "up":
            c = up(var)
            print(f"dailyfresh on {len(HOSTS)} network-namespace hosts ({c.subnet}, namespaces {c.prefix}-*):")
            for host in HOSTS:
                print(f"  {host:5} {c.addr(host)}")
            print(f"the shop answers at {c.url} (from this machine; the sandbox cashier at "
                  f"http://{c.addr('lb')}:{SANDBOX_PORT}/)")
            print(f"files and logs in {var}/<host>/; stop with make cluster-down")
        elif args.command == "down":
            print("stopped and removed" if down(var) else "not running")
        elif args.command == "status":
            c = Cluster.load(var)
            if c is None:
                print("not running")
                return
            state = "answers" if deploy.answers(c.url + "healthz") else "DOWN"
            print(f"{c.prefix} {c.subnet}; shop at {c.url}: {state}")
            print(f"Redis primary (Sentinel): {redis_primary(c)}")
    except (ClusterError, deploy.DeployError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
