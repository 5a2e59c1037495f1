"""The Redis settings beyond one plain server: Sentinels, service name, TLS and unix URLs, the lane switch."""

from __future__ import annotations

import pytest

from fresh.redis_client import Lane, SentinelRedis, create_lane, create_redis
from fresh.settings import SettingsError, load_settings


def _load(tmp_path, env: dict):
    return load_settings(path=str(tmp_path / "missing.toml"), env=env, var_dir=str(tmp_path))


def test_without_sentinels_nothing_changes(tmp_path):
    cfg = _load(tmp_path, {})
    assert (cfg.redis.sentinels, cfg.redis.service_name, cfg.redis.lane) == ("", "dailyfresh", True)
    client = create_redis(cfg.redis)
    assert not isinstance(client, SentinelRedis)
    assert isinstance(create_lane(cfg.redis, client), Lane)


def test_sentinels_and_service_name_from_the_environment(tmp_path):
    cfg = _load(tmp_path, {"FRESH_REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381",
                           "FRESH_REDIS_SERVICE_NAME": "shop", "FRESH_REDIS_URL": "rediss://:pw@unused/2"})
    assert cfg.redis.sentinels == "10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381"
    assert cfg.redis.service_name == "shop"
    client = create_redis(cfg.redis)  # no I/O yet
    assert isinstance(client, SentinelRedis)
    assert [(c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
            for c in client.sentinel.sentinels] == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381)]
    assert client.connection_pool.service_name == "shop"
    assert client.connection_pool.connection_kwargs["db"] == 2
    assert client.connection_pool.connection_kwargs["password"] == "pw"


def test_the_lane_can_be_turned_off(tmp_path):
    cfg = _load(tmp_path, {"FRESH_REDIS_LANE": "off"})
    client = create_redis(cfg.redis)
    assert create_lane(cfg.redis, client) is client


@pytest.mark.parametrize("env, message", [
    ({"FRESH_REDIS_SENTINELS": "10.0.0.1"}, "redis.sentinels: '10.0.0.1' is not host:port"),
    ({"FRESH_REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:port"}, "redis.sentinels: '10.0.0.2:port'"),
    ({"FRESH_REDIS_SENTINELS": ":26379"}, "redis.sentinels"),
    ({"FRESH_REDIS_SENTINELS": "h:70000"}, "redis.sentinels"),
    ({"FRESH_REDIS_SENTINELS": "h:1", "FRESH_REDIS_URL": "unix:///run/redis.sock"}, "must be redis:// or rediss://"),
    ({"FRESH_REDIS_SENTINELS": "h:1", "FRESH_REDIS_SERVICE_NAME": " "}, "redis.service_name"),
    ({"FRESH_REDIS_SENTINEL_TIMEOUT": "0"}, "redis.sentinel_timeout must be positive"),
    ({"FRESH_REDIS_URL": "http://127.0.0.1:6379/0"}, "redis.url: the scheme must be"),
    ({"FRESH_REDIS_URL": "redis://127.0.0.1:6379/zero"}, "redis.url: the path must be the database number"),
    ({"FRESH_REDIS_URL": "redis://127.0.0.1:port/0"}, "redis.url: the port is not a number"),
    ({"FRESH_REDIS_URL": "rediss://h/0?ssl_ca_cert=/ca.pem"}, "redis.url: unknown option 'ssl_ca_cert'"),
    ({"FRESH_REDIS_URL": "rediss://h/0?ssl_cert_reqs=maybe"}, "ssl_cert_reqs must be none, optional or required"),
    ({"FRESH_REDIS_URL": "redis://h/0?ssl_ca_certs=/ca.pem"}, "ssl_ca_certs is for TLS: the URL must be rediss://"),
    ({"FRESH_REDIS_URL": "unix://"}, "needs the socket's path"),
    ({"FRESH_REDIS_URL": "unix:///run/redis.sock?db=x"}, "db must be a number"),
])
def test_malformed_redis_settings_are_refused_with_a_clear_message(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message.replace("?", r"\?").replace("(", r"\(")):
        _load(tmp_path, env)


@pytest.mark.parametrize("url", [
    "rediss://127.0.0.1:6380/1?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/c.key",
    "rediss://127.0.0.1:6380/1?ssl_cert_reqs=none",
    "unix:///run/redis/redis.sock?db=4",
    "redis://user:p%40ss@redis.internal:6379/0",
])
def test_tls_and_unix_urls_are_accepted(tmp_path, url):
    assert _load(tmp_path, {"FRESH_REDIS_URL": url}).redis.url == url


def test_the_bootstrap_leaves_redis_alone_when_sentinels_name_it(tmp_path):
    """`make run`'s service check looks at the URL's host; with Sentinels that host is not used: nothing to start."""
    from fresh.bootstrap import endpoints

    assert endpoints(_load(tmp_path, {})).split()[2:4] == ["127.0.0.1", "6379"]
    assert endpoints(_load(tmp_path, {"FRESH_REDIS_SENTINELS": "10.0.0.1:26379"})).split()[2] == "-"
