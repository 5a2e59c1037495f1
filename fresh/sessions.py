"""Redis-backed sessions.

The signed cookie carries `<sid>|<user_id>|<username>`, so a handler on the hot path can act without a Redis
round trip and check that `session:<sid>` still exists inside its own script. Every other request loads the
session in `prepare()`. Guests get a session (user id 0) once they need one, e.g. for a guest cart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from fresh.redis_client import Lane

COOKIE_NAME = "sid"


def session_key(sid: str) -> str:
    return f"session:{sid}"


def user_sessions_key(user_id: int) -> str:
    return f"user_sessions:{user_id}"


@dataclass(frozen=True)
class Session:
    sid: str
    user_id: int
    username: str
    is_staff: bool = False

    @property
    def is_guest(self) -> bool:
        return self.user_id == 0


def encode_cookie(session: Session) -> str:
    return f"{session.sid}|{session.user_id}|{session.username}"


def decode_cookie(value: bytes | str | None) -> Session | None:
    """Read the claims of an already signature-checked cookie value."""
    if not value:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    parts = value.split("|")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
        return None
    return Session(sid=parts[0], user_id=int(parts[1]), username=parts[2])


async def create_session(
    redis: aioredis.Redis, *, user_id: int, username: str, is_staff: bool, ttl: int
) -> Session:
    """Store a new session under a fresh random id (ids are never reused, so login rotates them)."""
    session = Session(sid=secrets.token_urlsafe(24), user_id=user_id, username=username, is_staff=is_staff)
    key = session_key(session.sid)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={"uid": user_id, "username": username, "staff": int(is_staff)})
        pipe.expire(key, ttl)
        if user_id:
            pipe.sadd(user_sessions_key(user_id), session.sid)
            pipe.expire(user_sessions_key(user_id), ttl)
        await pipe.execute()
    return session


async def load_session(redis: aioredis.Redis | Lane, claims: Session) -> Session | None:
    """Return the stored session matching the cookie claims, or None when it ended or does not match."""
    return stored_session(claims, await redis.hgetall(session_key(claims.sid)))


def stored_session(claims: Session, data: dict) -> Session | None:
    """The session from the cookie claims and the `session:<sid>` hash read for them (e.g. in a pipeline)."""
    if not data or data.get("uid") != str(claims.user_id):
        return None
    return Session(
        sid=claims.sid, user_id=claims.user_id, username=data.get("username", ""), is_staff=data.get("staff") == "1"
    )


async def destroy_session(redis: aioredis.Redis, session: Session) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(session_key(session.sid))
        if session.user_id:
            pipe.srem(user_sessions_key(session.user_id), session.sid)
        await pipe.execute()


async def destroy_user_sessions(redis: aioredis.Redis, user_id: int) -> None:
    """End every session of a user (deactivated or deleted by an admin)."""
    sids = await redis.smembers(user_sessions_key(user_id))
    if sids:
        await redis.delete(*(session_key(s) for s in sids))
    await redis.delete(user_sessions_key(user_id))
