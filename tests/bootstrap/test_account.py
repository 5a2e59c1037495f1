"""The shop's own MariaDB account, set up by the bootstrap on a private server whose root logs in by unix_socket."""

from __future__ import annotations

import pymysql
import pytest

from fresh import db, migrate
from fresh.bootstrap import PRIVILEGES, native_hash
from fresh.settings import load_settings
from tests.bootstrap.conftest import bootstrap_env, run_bootstrap


def env_for(server, password_file, **extra) -> dict:
    """A checkout whose password file is `password_file`, of an OS user whose state directory is beside it."""
    return bootstrap_env(password_file.parent / "state", **{
        "FRESH_DB_PORT": server.port, "FRESH_DB_PASSWORD_FILE": password_file, "FRESH_DB_ADMIN_SOCKET": server.socket,
        **extra})


def accounts(server) -> str:
    """Everything the server knows about the shop's accounts: their authentication and their grants."""
    rows = server.root_sql("SELECT user, host, priv FROM mysql.global_priv WHERE user='dailyfresh' ORDER BY host")
    grants = "".join(server.root_sql(f"SHOW GRANTS FOR 'dailyfresh'@'{host}'")
                     for host in ("localhost", "127.0.0.1", "::1"))
    return rows + grants


async def test_root_over_tcp_is_refused_as_on_debian(private_mariadb):
    # The premise of the other tests: the shop's old login (root, no password, TCP) does not work here.
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=private_mariadb.port, user="root", password="", connect_timeout=5)
    assert refused.value.args[0] in (1045, 1698)


async def test_account_is_created_through_the_socket_login_and_the_shop_uses_it(private_mariadb, tmp_path):
    env = env_for(private_mariadb, tmp_path / "db_password")
    first = run_bootstrap("account", env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == (f"MariaDB account dailyfresh: set up (password and privileges) through root over the"
                            f" unix socket (password generated into {tmp_path / 'db_password'})\n")
    password = (tmp_path / "db_password").read_text()
    assert len(password) >= 32

    cfg = load_settings(env=env)
    assert (cfg.db.user, cfg.db.password) == ("dailyfresh", password)
    # The shop, as itself, creates its database and applies every migration.
    await migrate.create_database(cfg.db, drop=True)
    pool = await db.create_pool(cfg.db)
    try:
        assert await migrate.migrate(pool)
        row = await db.fetchone(pool, "SELECT CURRENT_USER() AS who")
        assert row["who"] == "dailyfresh@localhost"  # name resolution on, as Debian ships it
    finally:
        pool.close()
        await pool.wait_closed()

    before = accounts(private_mariadb)
    second = run_bootstrap("account", env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "MariaDB account dailyfresh: ready"
    assert accounts(private_mariadb) == before
    assert (tmp_path / "db_password").read_text() == password


async def test_the_account_reaches_the_shops_databases_only(private_mariadb, tmp_path):
    env = env_for(private_mariadb, tmp_path / "db_password")
    assert run_bootstrap("account", env).returncode == 0
    cfg = load_settings(env=env)
    conn = pymysql.connect(host="127.0.0.1", port=private_mariadb.port, user=cfg.db.user,
                           password=cfg.db.password, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            # Another engineer's test database (FRESH_TEST_DB=dailyfresh_test_<name>), the bench's and the shop's.
            for name in ("dailyfresh_test_someone", "dailyfresh_bench", "dailyfresh"):
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
            cur.execute("CREATE TABLE dailyfresh_test_someone.t (id INT PRIMARY KEY)")
            cur.execute("DROP DATABASE dailyfresh_test_someone")
            for name in ("otherdb", "dailyfreshx", "mysql"):
                with pytest.raises(pymysql.err.OperationalError) as refused:
                    cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`")
                assert refused.value.args[0] == 1044
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute("SELECT user FROM mysql.global_priv")
    finally:
        conn.close()
    grants = private_mariadb.root_sql("SHOW GRANTS FOR 'dailyfresh'@'127.0.0.1'").splitlines()
    # Nothing server-wide; on its databases exactly the shop's privileges.
    assert [g for g in grants if " ON *.* " in g and not g.startswith("GRANT USAGE ON *.* ")] == []
    assert sorted(g.split(" ON ")[1].split(" TO ")[0] for g in grants if " ON *.* " not in g) == [
        "`dailyfresh\\_%`.*", "`dailyfresh`.*"]
    for grant in grants[1:]:
        assert set(grant.removeprefix("GRANT ").split(" ON ")[0].split(", ")) == set(PRIVILEGES)


async def test_a_second_checkout_of_the_same_user_adopts_the_password(private_mariadb, tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first_env = env_for(private_mariadb, tmp_path / "first" / "db_password", XDG_STATE_HOME=tmp_path / "state")
    second_env = env_for(private_mariadb, tmp_path / "second" / "db_password", XDG_STATE_HOME=tmp_path / "state")
    assert run_bootstrap("account", first_env).returncode == 0
    before = accounts(private_mariadb)
    adopted = run_bootstrap("account", second_env)
    assert adopted.returncode == 0, adopted.stderr
    assert adopted.stdout == ("MariaDB account dailyfresh: ready (the password this user's checkouts share copied to"
                              f" {tmp_path / 'second' / 'db_password'})\n")
    assert accounts(private_mariadb) == before  # the first checkout's password still works: nothing was reset
    assert (tmp_path / "second" / "db_password").read_text() == (tmp_path / "first" / "db_password").read_text()
    for env in (first_env, second_env):
        cfg = load_settings(env=env)
        pool = await db.create_pool(cfg.db, database="")
        pool.close()
        await pool.wait_closed()


async def test_no_admin_login_fails_in_one_line_and_a_rerun_continues(private_mariadb, tmp_path):
    password_file = tmp_path / "db_password"
    refused = run_bootstrap("account", env_for(private_mariadb, password_file, FRESH_DB_ADMIN_USER="nobody_here",
                                               FRESH_DB_ADMIN_SOCKET=""))
    assert refused.returncode == 1
    assert refused.stdout == ""
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: no administrative MariaDB login works")
    assert "FRESH_DB_ADMIN_USER=<admin> FRESH_DB_ADMIN_PASSWORD=<password> make services" in line
    password = password_file.read_text()  # generated before the failure, kept for the next run

    resumed = run_bootstrap("account", env_for(private_mariadb, password_file))
    assert resumed.returncode == 0, resumed.stderr
    assert password_file.read_text() == password
    pymysql.connect(host="127.0.0.1", port=private_mariadb.port, user="dailyfresh", password=password,
                    connect_timeout=5).close()


async def test_configured_credentials_are_used_and_root_is_never_changed(private_mariadb, tmp_path):
    env = env_for(private_mariadb, tmp_path / "unused", FRESH_DB_USER="shopkeeper", FRESH_DB_PASSWORD="s3cret-pw")
    made = run_bootstrap("account", env)
    assert made.returncode == 0, made.stderr
    pymysql.connect(host="127.0.0.1", port=private_mariadb.port, user="shopkeeper", password="s3cret-pw",
                    connect_timeout=5).close()
    assert not (tmp_path / "unused").exists()

    root_before = private_mariadb.root_sql("SELECT host, priv FROM mysql.global_priv WHERE user='root'")
    as_root = run_bootstrap("account", env_for(private_mariadb, tmp_path / "unused", FRESH_DB_USER="root",
                                               FRESH_DB_PASSWORD="anything"))
    assert as_root.returncode == 1
    assert as_root.stderr.startswith("error: db.user is root: the bootstrap never changes root")
    assert private_mariadb.root_sql("SELECT host, priv FROM mysql.global_priv WHERE user='root'") == root_before


async def test_an_account_accepting_several_passwords_is_set_up_again_with_one(private_mariadb, tmp_path):
    # aiomysql cannot follow the server's switch to a second method during the login: with this checkout's password
    # second in an `IDENTIFIED VIA ... OR ...` list the shop could not connect although the mariadb client could.
    env = env_for(private_mariadb, tmp_path / "db_password")
    assert run_bootstrap("account", env).returncode == 0
    cfg = load_settings(env=env)
    ours, other = native_hash(cfg.db.password), native_hash("another checkout's password")
    for host in ("localhost", "127.0.0.1", "::1"):
        private_mariadb.root_sql(f"ALTER USER 'dailyfresh'@'{host}' IDENTIFIED VIA mysql_native_password USING"
                                 f" '{other}' OR mysql_native_password USING '{ours}'")
    # (aiomysql's failed attempt would also leak its socket, so the test shows the fix rather than the failure.)
    fixed = run_bootstrap("account", env)
    assert fixed.returncode == 0, fixed.stderr
    assert "set up (password and privileges)" in fixed.stdout
    pool = await db.create_pool(cfg.db, database="")
    pool.close()
    await pool.wait_closed()
    assert " OR " not in private_mariadb.root_sql("SHOW GRANTS FOR 'dailyfresh'@'localhost'")
