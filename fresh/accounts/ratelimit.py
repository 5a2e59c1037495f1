"""Throttles for the account forms, as Redis counters every process shares.

Each counter is a fixed window that starts at its first hit (INCR, then EXPIRE NX). A login is refused when the
failures of its username, or of its IP across every username, reached their limit: the check is one round trip
and comes before any password hash, so a refused attempt costs no argon2 time. Registrations and activation
resends count every attempt per IP and per email address (a mail per resend is what an attacker would abuse).
Keys hash their subject: usernames and emails are user input and must not shape the key space.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis

from fresh.errors import TooManyRequests
from fresh.settings import AccountsSettings


@dataclass(frozen=True)
class Limit:
    """At most `limit` counted events per `window` seconds for one subject (an IP, a username, an email)."""

    name: str
    limit: int
    window: int

    def key(self, subject: str) -> str:
        digest = hashlib.sha256(subject.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"throttle:{self.name}:{digest}"


class Throttled(TooManyRequests):
    """A throttle refused the request; `retry_after` is the seconds until its window ends."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


async def retry_after(redis: aioredis.Redis, checks: list[tuple[Limit, str]]) -> int:
    """Seconds until every (limit, subject) is under its limit again; 0 when none has reached it."""
    keys = [limit.key(subject) for limit, subject in checks]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.get(key)
            pipe.ttl(key)
        replies = await pipe.execute()
    wait = 0
    for (limit, _), count, ttl in zip(checks, replies[0::2], replies[1::2], strict=True):
        if int(count or 0) >= limit.limit:
            wait = max(wait, ttl if ttl > 0 else limit.window)
    return wait


async def hit(redis: aioredis.Redis, checks: list[tuple[Limit, str]]) -> int:
    """Count one event for every (limit, subject) in one round trip; return the seconds to wait when any of them
    went over its limit (0 otherwise). Counting first makes concurrent attempts unable to slip past the limit."""
    async with redis.pipeline(transaction=True) as pipe:
        for limit, subject in checks:
            key = limit.key(subject)
            pipe.incr(key)
            # The window starts at the first event and is not extended by later ones, so it always ends.
            pipe.expire(key, limit.window, nx=True)
            pipe.ttl(key)
        replies = await pipe.execute()
    wait = 0
    for (limit, _), count, ttl in zip(checks, replies[0::3], replies[2::3], strict=True):
        if int(count) > limit.limit:
            wait = max(wait, ttl if ttl > 0 else limit.window)
    return wait


async def take(redis: aioredis.Redis, checks: list[tuple[Limit, str]], message: str) -> None:
    """Count one attempt for every (limit, subject); raise Throttled when one of them is over its limit."""
    wait = await hit(redis, checks)
    if wait:
        raise Throttled(message, wait)


def login_checks(cfg: AccountsSettings, *, username: str, ip: str) -> list[tuple[Limit, str]]:
    """Failed logins per username (any IP) and per IP (any username)."""
    return [
        (Limit("login_user", cfg.login_max_failures, cfg.login_window), username),
        (Limit("login_ip", cfg.login_ip_max_failures, cfg.login_window), ip),
    ]


def register_checks(cfg: AccountsSettings, *, ip: str, email: str) -> list[tuple[Limit, str]]:
    return [
        (Limit("register_ip", cfg.register_ip_max, cfg.signup_window), ip),
        (Limit("register_email", cfg.register_email_max, cfg.signup_window), email),
    ]


def resend_ip_check(cfg: AccountsSettings, ip: str) -> list[tuple[Limit, str]]:
    return [(Limit("resend_ip", cfg.resend_ip_max, cfg.signup_window), ip)]


def resend_email_check(cfg: AccountsSettings, email: str) -> list[tuple[Limit, str]]:
    return [(Limit("resend_email", cfg.resend_email_max, cfg.signup_window), email)]


def minutes(seconds: int) -> int:
    """Whole minutes for a message, at least 1."""
    return max(1, -(-seconds // 60))


async def clear(redis: aioredis.Redis, checks: list[tuple[Limit, str]]) -> None:
    await redis.delete(*(limit.key(subject) for limit, subject in checks))
