"""The bootstrap's Python half: where the services are, and the shop's own MariaDB account.

scripts/ensure-services.sh installs and starts MariaDB and Redis, then runs `python3 -m fresh.bootstrap account`.
Standard library only, and every statement goes through the `mariadb` client, so the system's python3 runs it
before the virtualenv exists and the root login over the unix socket can be `sudo mariadb`.

    python3 -m fresh.bootstrap endpoints   # "<db host> <db port> <redis host> <redis port> <var dir>" for the script
    python3 -m fresh.bootstrap account     # make sure the shop's own account logs in with its privileges

The administrative login is the first that works of: FRESH_DB_ADMIN_USER / FRESH_DB_ADMIN_PASSWORD (over TCP, or
over FRESH_DB_ADMIN_SOCKET; when given, the only one tried), root over TCP without a password, root over the unix
socket (directly as root, else through password-less sudo). It is needed only while the account is missing or
refuses the password; once the shop logs in, nothing is asked of it.

The generated password goes into the checkout's var/db_password, and a copy into this OS user's state directory
(~/.local/state/dailyfresh/, one per server) that every checkout of the same user adopts: several checkouts sharing
one server (worktrees, CI clones) then agree on one password instead of each resetting it to its own.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fresh.settings import DB_ACCOUNT, DBSettings, Settings, SettingsError, load_settings, resolve_path

# The shop reaches MariaDB from this machine only: over the socket (localhost) or TCP, which a server with
# skip-name-resolve (like this project's) sees as 127.0.0.1 or ::1 rather than localhost.
HOSTS = ("localhost", "127.0.0.1", "::1")
# What the shop does in its own databases: its migrations (tables, indexes, foreign keys), rows, and the resets of
# the test, benchmark and screenshot databases. Nothing server-wide.
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES",
              "CREATE TEMPORARY TABLES", "LOCK TABLES")
# The family of the shop's other databases: dailyfresh_test (FRESH_TEST_DB; per developer dailyfresh_test_<name>),
# dailyfresh_bench, dailyfresh_screens. `_` is a wildcard in a grant's database name, hence the backslash.
FAMILY = "dailyfresh\\_%"
CALL_TIMEOUT = 20  # seconds for one client call: a failure ends within seconds, never hangs the bootstrap
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_ACCESS_DENIED = re.compile(r"ERROR (1045|1130|1698)\b")


class Failure(Exception):
    """What is wrong and the command that fixes it, said in one line."""


@dataclass(frozen=True)
class Login:
    name: str                   # as said in messages
    argv: tuple[str, ...]       # the client's command line
    password: str | None = None  # handed over in MYSQL_PWD, never on the command line


class ClientError(Exception):
    """The client refused or failed (its last line of stderr)."""

    @property
    def access_denied(self) -> bool:
        return bool(_ACCESS_DENIED.search(str(self)))


def client() -> str:
    found = shutil.which("mariadb") or shutil.which("mysql")
    if not found:
        raise Failure("the mariadb client is missing: run  sudo apt-get install -y mariadb-client")
    return found


def run_sql(login: Login, sql: str) -> str:
    """Run statements through the client; the tab-separated rows it prints, unescaped."""
    env = {k: v for k, v in os.environ.items() if k != "MYSQL_PWD"}
    if login.password:
        env["MYSQL_PWD"] = login.password
    argv = [*login.argv, "--batch", "--raw", "--skip-column-names", "--connect-timeout=5"]
    try:
        proc = subprocess.run(argv, input=sql, capture_output=True, text=True, env=env, timeout=CALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise ClientError(f"no answer within {CALL_TIMEOUT} s") from None
    if proc.returncode:
        raise ClientError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return proc.stdout


def tcp_login(name: str, cfg: DBSettings, user: str, password: str) -> Login:
    # --no-defaults: a ~/.my.cnf password must not ride along with somebody else's login.
    return Login(name, (client(), "--no-defaults", f"--host={cfg.host}", f"--port={cfg.port}", "--protocol=TCP",
                        f"--user={user}"), password)


def admin_logins(cfg: DBSettings, env: dict) -> list[Login]:
    """The administrative logins to try, in order."""
    mariadb = client()
    socket = env.get("FRESH_DB_ADMIN_SOCKET", "")
    via_socket = (f"--socket={socket}",) if socket else ()
    if env.get("FRESH_DB_ADMIN_USER"):
        user, password = env["FRESH_DB_ADMIN_USER"], env.get("FRESH_DB_ADMIN_PASSWORD", "")
        if socket:
            return [Login(f"{user} over the unix socket", (mariadb, "--no-defaults", *via_socket, f"--user={user}"),
                          password)]
        return [tcp_login(f"{user} (FRESH_DB_ADMIN_USER) over TCP", cfg, user, password)]
    logins = [tcp_login("root over TCP without a password", cfg, "root", "")]
    if os.geteuid() == 0:
        logins.append(Login("root over the unix socket", (mariadb, *via_socket, "--user=root")))
    elif shutil.which("sudo") and _passwordless_sudo():
        logins.append(Login("sudo mariadb (root over the unix socket)", ("sudo", "-n", mariadb, *via_socket,
                                                                           "--user=root")))
    return logins


def _passwordless_sudo() -> bool:
    try:
        return subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def native_hash(password: str) -> str:
    """mysql_native_password's stored form, so the password itself never reaches a statement."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()  # noqa: S324


def grant_patterns(cfg: DBSettings) -> list[str]:
    """The databases the account may use: the configured one and the shop's family."""
    if not _NAME.match(cfg.name):
        raise Failure(f"bad database name {cfg.name!r} in db.name")
    exact = cfg.name.replace("_", "\\_")
    return [exact] if exact == FAMILY else [exact, FAMILY]


def account_ready(shop: Login, patterns: list[str]) -> bool:
    """Whether the shop logs in with one password and holds every privilege it needs (False when refused)."""
    try:
        rows = run_sql(shop, "SHOW GRANTS;\n"
                             "SELECT table_schema, privilege_type FROM information_schema.schema_privileges;")
    except ClientError as exc:
        if exc.access_denied:
            return False
        raise Failure(f"MariaDB does not answer the shop's login ({exc}): run  make services") from None
    lines = rows.splitlines()
    # An account accepting several passwords (IDENTIFIED VIA ... OR ...) makes the server switch methods during the
    # login, which aiomysql cannot follow: such an account is set up again with the one password.
    if any(line.startswith("GRANT USAGE ON *.*") and " OR " in line for line in lines):
        return False
    held = {tuple(line.split("\t")) for line in lines if "\t" in line}
    return all((pattern, privilege) in held for pattern in patterns for privilege in PRIVILEGES)


def choose_admin(cfg: DBSettings, env: dict) -> Login:
    """The first administrative login that reaches the configured server."""
    tried = []
    for login in admin_logins(cfg, env):
        try:
            port = run_sql(login, "SELECT @@port").strip()
        except ClientError as exc:
            tried.append(f"{login.name}: {exc}")
            continue
        # The socket belongs to whichever server the client finds; it must be the one the shop uses.
        if port != str(cfg.port):
            tried.append(f"{login.name}: reaches the server on port {port}, not {cfg.port}")
            continue
        return login
    fix = ("FRESH_DB_ADMIN_USER=<admin> FRESH_DB_ADMIN_PASSWORD=<password> make services" if os.geteuid() == 0
           else "sudo scripts/ensure-services.sh  (or set FRESH_DB_ADMIN_USER and FRESH_DB_ADMIN_PASSWORD)")
    raise Failure(f"no administrative MariaDB login works to set up the shop's account ({'; '.join(tried)}):"
                  f" run  {fix}")


def account_statements(user: str, password: str, patterns: list[str]) -> list[str]:
    """The statements that give `user` (from this machine) this password and the shop's privileges."""
    wanted = native_hash(password)
    statements = []
    for host in HOSTS:
        account = f"'{user}'@'{host}'"
        statements += [f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY PASSWORD '{wanted}'",
                       f"ALTER USER {account} IDENTIFIED BY PASSWORD '{wanted}'"]
        statements += [f"GRANT {', '.join(PRIVILEGES)} ON `{pattern}`.* TO {account}" for pattern in patterns]
    return statements


def shop_login(db: DBSettings, env: dict) -> tuple[DBSettings, str]:
    """The login the shop will use: as configured, else `dailyfresh` with this OS user's generated password, written
    into the checkout's password file (and the user's copy) when missing or different; what was written."""
    if db.user or db.password:
        return dataclasses.replace(db, user=db.user or DB_ACCOUNT), ""
    var, shared = resolve_path(db.password_file), shared_copy(db, env)
    known = [p.read_text().strip() for p in (shared, var) if p.is_file() and p.read_text().strip()]
    password = known[0] if known else secrets.token_urlsafe(32)
    said = ""
    if not var.is_file() or var.read_text().strip() != password:
        _write_secret(var, password)
        said = (f"the password this user's checkouts share copied to {var}" if known
                else f"password generated into {var}")
    if not shared.is_file() or shared.read_text().strip() != password:
        _write_secret(shared, password)
    return dataclasses.replace(db, user=DB_ACCOUNT, password=password), said


def shared_copy(db: DBSettings, env: dict) -> Path:
    """This OS user's copy of the generated password for one server, adopted by all of the user's checkouts."""
    state = env.get("XDG_STATE_HOME") or os.path.join(env.get("HOME") or str(Path.home()), ".local", "state")
    return Path(state) / "dailyfresh" / f"db_password-{db.host}-{db.port}"


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    os.replace(tmp, path)


def ensure_account(db: DBSettings, env: dict) -> str:
    """Make sure the shop's account logs in with its privileges; say what was done."""
    if db.user == "root":
        raise Failure("db.user is root: the bootstrap never changes root; leave db.user empty for the shop's own"
                      " account or set db.user/db.password to an existing one")
    if not _NAME.match(db.user):
        raise Failure(f"bad database user name {db.user!r} in db.user")
    if not db.password:
        raise Failure(f"db.password is empty for db.user {db.user}: set both (FRESH_DB_USER, FRESH_DB_PASSWORD) or"
                      " neither")
    patterns = grant_patterns(db)
    shop = tcp_login(db.user, db, db.user, db.password)
    if account_ready(shop, patterns):
        return f"MariaDB account {db.user}: ready"
    admin = choose_admin(db, env)
    try:
        run_sql(admin, "".join(f"{s};\n" for s in account_statements(db.user, db.password, patterns)))
    except ClientError as exc:
        raise Failure(f"{admin.name} could not set up the account {db.user} ({exc}): run  sudo mariadb  and check"
                      f" its privileges (CREATE USER, GRANT OPTION)") from None
    if not account_ready(shop, patterns):
        hint = "check  SELECT user, host FROM mysql.user  for an anonymous user"
        raise Failure(f"the account {db.user} still cannot log in over TCP on {db.host}:{db.port} after setting it"
                      f" up through {admin.name}: {hint}")
    return f"MariaDB account {db.user}: set up (password and privileges) through {admin.name}"


@contextlib.contextmanager
def machine_lock(port: int):
    """One account step at a time per server on this machine: two checkouts of one user choosing the password at
    once would each generate their own."""
    path = os.path.join(tempfile.gettempdir(), f"dailyfresh-bootstrap-{port}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file: reading is enough to lock it
        fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def endpoints(cfg: Settings) -> str:
    redis = urlsplit(cfg.redis.url)
    redis_host = redis.hostname or "" if redis.scheme in ("redis", "rediss") else ""
    if cfg.redis.sentinels:
        redis_host = ""  # the Sentinels name the server: the URL's host is not used, nothing to check or start
    return f"{cfg.db.host} {cfg.db.port} {redis_host or '-'} {redis.port or 6379} {cfg.var_path}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m fresh.bootstrap")
    parser.add_argument("command", choices=("endpoints", "account"))
    args = parser.parse_args(argv)
    env = dict(os.environ)
    try:
        if args.command == "endpoints":
            print(endpoints(load_settings()))
            return 0
        db = load_settings(resolve_db_login=False).db
        with machine_lock(db.port):
            # The password files come first, so a run that fails later continues with the same password.
            db, written = shop_login(db, env)
            said = ensure_account(db, env)
        print(f"{said} ({written})" if written else said)
    except (Failure, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
