"""Signed, expiring activation tokens: `<user_id>.<expires>.<hmac>`, URL-safe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


class TokenError(Exception):
    """The token is forged or malformed."""


class TokenExpired(Exception):
    def __init__(self, user_id: int):
        super().__init__(user_id)
        self.user_id = user_id


@dataclass(frozen=True)
class _Key:
    secret: str

    def sign(self, payload: str) -> str:
        key = hmac.new(self.secret.encode(), b"dailyfresh-activation", hashlib.sha256).digest()
        digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_activation_token(secret: str, user_id: int, ttl: int, now: float | None = None) -> str:
    expires = int((now if now is not None else time.time()) + ttl)
    payload = f"{user_id}.{expires}"
    return f"{payload}.{_Key(secret).sign(payload)}"


def read_activation_token(secret: str, token: str, now: float | None = None) -> int:
    """Return the user id; raise TokenError when forged, TokenExpired when past its time."""
    parts = token.split(".")
    if len(token) > 200 or len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise TokenError(token)
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_Key(secret).sign(payload), parts[2]):
        raise TokenError(token)
    user_id = int(parts[0])
    if int(parts[1]) < (now if now is not None else time.time()):
        raise TokenExpired(user_id)
    return user_id
