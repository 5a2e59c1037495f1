"""Settings: defaults < TOML file < FRESH_* environment, validated once; production refuses missing secrets."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from fresh.settings import ROOT, Settings, SettingsError, load_settings, replica_settings

SECRET = "s" * 40


def write_toml(tmp_path, text: str) -> str:
    path = tmp_path / "fresh.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_without_file_or_environment(tmp_path):
    cfg = load_settings(path=str(tmp_path / "missing.toml"), env={}, var_dir=str(tmp_path))
    assert cfg.mode == "development"
    assert cfg.web.port == 8000
    assert cfg.db.name == "dailyfresh"
    assert cfg.orders.stock_strategy == "atomic"
    assert cfg.orders.transit_price == Decimal("10.00")
    assert isinstance(cfg.orders.transit_price, Decimal)
    assert not cfg.production


def test_toml_values_override_defaults(tmp_path):
    path = write_toml(tmp_path, f"""
mode = "test"
var_dir = "{tmp_path}"
[web]
port = 9001
cookie_secret = "{SECRET}"
[orders]
transit_price = "12.50"
stock_strategy = "pessimistic"
""")
    cfg = load_settings(path=path, env={})
    assert (cfg.mode, cfg.web.port, cfg.web.cookie_secret) == ("test", 9001, SECRET)
    assert cfg.orders.transit_price == Decimal("12.50")
    assert cfg.orders.stock_strategy == "pessimistic"


def test_environment_overrides_the_file(tmp_path):
    path = write_toml(tmp_path, f'var_dir = "{tmp_path}"\n[web]\nport = 9001\n[db]\nname = "from_file"\n')
    env = {"FRESH_WEB_PORT": "9002", "FRESH_DB_NAME": "from_env", "FRESH_WEB_XHEADERS": "yes",
           "FRESH_ORDERS_TRANSIT_PRICE": "0"}
    cfg = load_settings(path=path, env=env)
    assert cfg.web.port == 9002
    assert cfg.db.name == "from_env"
    assert cfg.web.xheaders is True
    assert cfg.orders.transit_price == Decimal("0")


def test_config_file_can_come_from_fresh_config(tmp_path):
    path = write_toml(tmp_path, f'var_dir = "{tmp_path}"\n[db]\nname = "pointed_at"\n')
    assert load_settings(env={"FRESH_CONFIG": path}).db.name == "pointed_at"


@pytest.mark.parametrize("env, message", [
    ({"FRESH_WEB_PORT": "eighty"}, "FRESH_WEB_PORT"),
    ({"FRESH_WEB_XHEADERS": "maybe"}, "FRESH_WEB_XHEADERS"),
    ({"FRESH_ORDERS_TRANSIT_PRICE": "ten"}, "FRESH_ORDERS_TRANSIT_PRICE"),
    ({"FRESH_ORDERS_TRANSIT_PRICE": "-1"}, "transit_price"),
    ({"FRESH_ORDERS_STOCK_STRATEGY": "yolo"}, "stock_strategy"),
    ({"FRESH_MODE": "staging"}, "mode"),
])
def test_malformed_values_are_refused_with_their_name(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(path=str(tmp_path / "missing.toml"), env=env, var_dir=str(tmp_path))


def test_unknown_keys_and_sections_are_refused(tmp_path):
    with pytest.raises(SettingsError, match="prot"):
        load_settings(path=write_toml(tmp_path, "[web]\nprot = 1\n"), env={}, var_dir=str(tmp_path))
    with pytest.raises(SettingsError, match="must be a table"):
        load_settings(path=write_toml(tmp_path, "web = 1\n"), env={}, var_dir=str(tmp_path))


def test_production_refuses_a_missing_cookie_secret(tmp_path):
    with pytest.raises(SettingsError, match="cookie_secret is required in production"):
        load_settings(path=str(tmp_path / "missing.toml"), env={"FRESH_MODE": "production"}, var_dir=str(tmp_path))
    # Nothing was generated for it either: production never invents a secret.
    assert not (tmp_path / "cookie_secret").exists()


def test_a_short_cookie_secret_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings(path=str(tmp_path / "missing.toml"), env={"FRESH_WEB_COOKIE_SECRET": "short"},
                      var_dir=str(tmp_path))


def test_development_generates_one_cookie_secret_and_keeps_it(tmp_path):
    first = load_settings(path=str(tmp_path / "missing.toml"), env={}, var_dir=str(tmp_path))
    second = load_settings(path=str(tmp_path / "missing.toml"), env={}, var_dir=str(tmp_path))
    assert len(first.web.cookie_secret) >= 32
    assert first.web.cookie_secret == second.web.cookie_secret
    secret_file = tmp_path / "cookie_secret"
    assert secret_file.read_text() == first.web.cookie_secret
    assert os.stat(secret_file).st_mode & 0o077 == 0


def test_settings_are_frozen(tmp_path):
    cfg = load_settings(path=str(tmp_path / "missing.toml"), env={}, var_dir=str(tmp_path))
    assert isinstance(cfg, Settings)
    with pytest.raises(AttributeError):
        cfg.web.port = 1  # type: ignore[misc]


def test_the_database_login_is_the_bootstraps_account_once_its_password_file_exists(tmp_path):
    password_file = tmp_path / "db_password"
    env = {"FRESH_DB_PASSWORD_FILE": str(password_file)}
    # A checkout where the bootstrap never ran keeps the old login.
    assert load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path)).db.user == "root"
    password_file.write_text("generated-by-the-bootstrap\n")
    cfg = load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))
    assert (cfg.db.user, cfg.db.password) == ("dailyfresh", "generated-by-the-bootstrap")
    # Configured credentials win over the file; the bootstrap reads them unresolved.
    configured = load_settings(path="/nonexistent", env={**env, "FRESH_DB_USER": "shop", "FRESH_DB_PASSWORD": "pw"},
                               var_dir=str(tmp_path))
    assert (configured.db.user, configured.db.password) == ("shop", "pw")
    raw = load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path), resolve_db_login=False)
    assert (raw.db.user, raw.db.password) == ("", "")


def test_production_refuses_the_passwordless_root_fallback(tmp_path):
    env = {"FRESH_MODE": "production", "FRESH_WEB_COOKIE_SECRET": SECRET,
           "FRESH_DB_PASSWORD_FILE": str(tmp_path / "missing")}
    with pytest.raises(SettingsError, match="db.user and db.password are required in production"):
        load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))
    cfg = load_settings(path="/nonexistent", env={**env, "FRESH_DB_USER": "shop", "FRESH_DB_PASSWORD": "pw"},
                        var_dir=str(tmp_path))
    assert cfg.db.user == "shop"


def test_the_replica_dsn_takes_the_primarys_login_and_database_where_it_names_none(tmp_path):
    password_file = tmp_path / "db_password"
    password_file.write_text("generated-by-the-bootstrap\n")
    env = {"FRESH_DB_PASSWORD_FILE": str(password_file), "FRESH_DB_NAME": "shop",
           "FRESH_DB_REPLICA": "mysql://10.0.0.2"}
    cfg = load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))
    assert cfg.db.replica == "mysql://10.0.0.2"
    assert replica_settings(load_settings(path="/nonexistent", env={**env, "FRESH_DB_REPLICA": ""},
                                          var_dir=str(tmp_path)).db) is None
    only_host = replica_settings(cfg.db)
    assert (only_host.host, only_host.port, only_host.user, only_host.password, only_host.name) == (
        "10.0.0.2", 3306, "dailyfresh", "generated-by-the-bootstrap", "shop")
    assert only_host.query_timeout == cfg.db.query_timeout and only_host.replica == ""
    full = replica_settings(load_settings(
        path="/nonexistent", env={**env, "FRESH_DB_REPLICA": "mariadb://reader:p%40ss@[fd00::2]:3307/shop_copy"},
        var_dir=str(tmp_path)).db)
    assert (full.host, full.port, full.user, full.password, full.name) == ("fd00::2", 3307, "reader", "p@ss",
                                                                          "shop_copy")


@pytest.mark.parametrize("dsn,complaint", [
    ("postgres://db2/dailyfresh", "scheme"),
    ("db2:3306", "scheme"),
    ("mysql:///dailyfresh", "host is missing"),
    ("mysql://db2:notaport/dailyfresh", "port"),
    ("mysql://db2:70000/dailyfresh", "port"),
    ("mysql://db2:3306/a/b", "database name alone"),
    ("mysql://db2/dailyfresh?ssl=1", "options"),
])
def test_a_malformed_replica_dsn_is_refused_without_repeating_its_password(tmp_path, dsn, complaint):
    dsn = dsn.replace("//", "//reader:hunter2@", 1) if "//" in dsn else dsn
    with pytest.raises(SettingsError, match=complaint) as refused:
        load_settings(path="/nonexistent", env={"FRESH_DB_REPLICA": dsn}, var_dir=str(tmp_path))
    assert "db.replica must look like mysql://user:password@host:3306/dailyfresh" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_replica_limits_must_be_positive(tmp_path):
    for env, complaint in (({"FRESH_DB_REPLICA_TIMEOUT": "0"}, "must be positive"),
                           ({"FRESH_DB_REPLICA_RETRY": "-1"}, "must be positive"),
                           ({"FRESH_DB_REPLICA_MAX_LAG": "-1"}, "must not be negative")):
        with pytest.raises(SettingsError, match=complaint):
            load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))


def leaf_fields(cls=Settings, path: tuple = ()):
    """(FRESH_* name, attribute path, default) of every setting."""
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            yield from leaf_fields(type(default), (*path, f.name))
        else:
            yield "_".join(("FRESH", *path, f.name)).upper(), (*path, f.name), default


def test_every_setting_is_read_from_its_fresh_variable(tmp_path):
    fields = list(leaf_fields())
    assert {"FRESH_MODE", "FRESH_WEB_PORT", "FRESH_DB_POOL_MAX", "FRESH_ORDERS_TRANSIT_PRICE"} <= {
        name for name, _, _ in fields}
    # Each default written back as text reads as itself (every kind of value is parsed from text) ...
    as_text = {name: str(default) for name, _, default in fields if name != "FRESH_VAR_DIR"}
    default = load_settings(path="/nonexistent", env={}, var_dir=str(tmp_path), resolve_db_login=False)
    assert load_settings(path="/nonexistent", env=as_text, var_dir=str(tmp_path), resolve_db_login=False) == default
    # ... and every number and switch given another value through its variable gets it.
    changed = {name: (path, not value if isinstance(value, bool) else value + 1) for name, path, value in fields
               if isinstance(value, bool | int | float | Decimal)}
    assert len(changed) > 40
    cfg = load_settings(path="/nonexistent", env={name: str(v) for name, (_, v) in changed.items()},
                        var_dir=str(tmp_path), resolve_db_login=False)
    for name, (path, value) in changed.items():
        assert functools.reduce(getattr, path, cfg) == value, name


def test_the_environment_wins_over_keyword_overrides_and_the_file(tmp_path):
    path = write_toml(tmp_path, f'var_dir = "{tmp_path}"\n[web]\nport = 9001\n')
    assert load_settings(path=path, env={}, web={"port": 9003}).web.port == 9003
    assert load_settings(path=path, env={"FRESH_WEB_PORT": "9002"}, web={"port": 9003}).web.port == 9002


@pytest.mark.parametrize("where", ["file", "environment"])
def test_production_from_the_file_or_the_environment_refuses_a_missing_or_empty_secret(tmp_path, where):
    if where == "file":
        path, env = write_toml(tmp_path, f'mode = "production"\nvar_dir = "{tmp_path}"\n'), {}
    else:
        path, env = "/nonexistent", {"FRESH_MODE": "production", "FRESH_VAR_DIR": str(tmp_path)}
    env.update(FRESH_DB_USER="shop", FRESH_DB_PASSWORD="pw")
    for secret in ({}, {"FRESH_WEB_COOKIE_SECRET": ""}):
        with pytest.raises(SettingsError, match="cookie_secret is required in production"):
            load_settings(path=path, env={**env, **secret})
    assert not (tmp_path / "cookie_secret").exists()
    cfg = load_settings(path=path, env={**env, "FRESH_WEB_COOKIE_SECRET": SECRET})
    assert cfg.production and cfg.web.cookie_secret == SECRET


def test_production_takes_a_configured_password_for_the_shops_own_account(tmp_path):
    env = {"FRESH_MODE": "production", "FRESH_WEB_COOKIE_SECRET": SECRET, "FRESH_DB_PASSWORD": "pw",
           "FRESH_DB_PASSWORD_FILE": str(tmp_path / "missing")}
    cfg = load_settings(path="/nonexistent", env=env, var_dir=str(tmp_path))
    assert (cfg.db.user, cfg.db.password) == ("dailyfresh", "pw")  # never root


def production_env(tmp_path) -> dict:
    """A complete production configuration of its own (no file, a private var dir), for the command line."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FRESH_CONFIG": "/nonexistent",
            "FRESH_MODE": "production", "FRESH_VAR_DIR": str(tmp_path), "FRESH_WEB_COOKIE_SECRET": SECRET,
            "FRESH_DB_USER": "shop", "FRESH_DB_PASSWORD": "pw"}


@pytest.mark.parametrize("command,refusal", [
    (["keys"], "keys refuses to run in production mode"),
    (["seed", "--demo"], "seed --demo/--scale refuses to run in production mode"),
    (["seed", "--scale", "100"], "seed --demo/--scale refuses to run in production mode"),
])
def test_production_refuses_development_commands(tmp_path, command, refusal):
    done = subprocess.run([sys.executable, "-m", "fresh", *command], cwd=ROOT, env=production_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and refusal in done.stderr, done
    assert not (tmp_path / "keys").exists()  # no key pair was made up either
