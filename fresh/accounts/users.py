"""Users: registration, activation, authentication, passwords (argon2id, hashed in an executor)."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable

import aiomysql
import pymysql
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from fresh import db
from fresh.errors import BadRequest
from fresh.hashgate import HashGate
from fresh.settings import AccountsSettings

# \Z, not $: `$` also matches before a trailing newline.
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{5,20}\Z")
# Deliberately plain: one @, a dot in the domain, no spaces; the activation mail proves the rest.
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\Z")
ER_DUP_ENTRY = 1062


class RegistrationError(BadRequest):
    """Field errors of the registration form: `fields` maps a field name to its message."""

    def __init__(self, fields: dict[str, str]):
        super().__init__(next(iter(fields.values())))
        self.fields = fields


@functools.lru_cache(maxsize=8)
def _hasher(cfg: AccountsSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=cfg.argon2_time_cost, memory_cost=cfg.argon2_memory_kib, parallelism=cfg.argon2_parallelism
    )


async def _run(gate: HashGate | None, fn: Callable, *args):
    if gate is None:  # command-line tools and tests
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    return await gate.run(fn, *args)


async def hash_password(cfg: AccountsSettings, password: str, *, gate: HashGate | None = None) -> str:
    return await _run(gate, _hasher(cfg).hash, password)


def _verify(cfg: AccountsSettings, password_hash: str, password: str) -> bool:
    try:
        return _hasher(cfg).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(cfg: AccountsSettings, password_hash: str, password: str, *,
                          gate: HashGate | None = None) -> bool:
    return await _run(gate, _verify, cfg, password_hash, password)


def clean_registration(form: dict[str, str]) -> dict[str, str]:
    """Validate the registration form; raise RegistrationError naming every bad field."""
    errors = {}
    username, pwd, cpwd, email = (form.get(k, "") for k in ("username", "pwd", "cpwd", "email"))
    if not username:
        errors["username"] = "请输入用户名"
    elif not USERNAME_RE.match(username):
        errors["username"] = "请输入5-20个字符的用户名（字母、数字或下划线）"
    if not pwd:
        errors["pwd"] = "请输入密码"
    elif not 8 <= len(pwd) <= 20:
        errors["pwd"] = "密码最少8位，最长20位"
    if not cpwd:
        errors["cpwd"] = "请再次输入密码"
    elif pwd != cpwd:
        errors["cpwd"] = "两次输入的密码不一致"
    if not email:
        errors["email"] = "请输入邮箱"
    elif len(email) > 254 or not EMAIL_RE.match(email):
        errors["email"] = "你输入的邮箱格式不正确"
    if form.get("allow") != "on":
        errors["allow"] = "请同意协议"
    if errors:
        raise RegistrationError(errors)
    return {"username": username, "pwd": pwd, "email": email}


async def register_user(pool: aiomysql.Pool, cfg: AccountsSettings, *, username: str, password: str,
                        email: str, is_active: bool = False, is_staff: bool = False,
                        gate: HashGate | None = None) -> int:
    """Create a user (inactive until activated); raise RegistrationError when the name is taken."""
    if await db.fetchone(pool, "SELECT id FROM users WHERE username=%s", (username,)):
        raise RegistrationError({"username": "用户名已存在"})
    password_hash = await hash_password(cfg, password, gate=gate)
    try:
        async with db.cursor(pool) as cur:
            await cur.execute(
                "INSERT INTO users (username, email, password_hash, is_active, is_staff) VALUES (%s,%s,%s,%s,%s)",
                (username, email, password_hash, int(is_active), int(is_staff)),
            )
            return cur.lastrowid
    except pymysql.err.IntegrityError as exc:
        # Two registrations of one name at once: the unique key decides.
        if exc.args[0] == ER_DUP_ENTRY:
            raise RegistrationError({"username": "用户名已存在"}) from None
        raise


async def get_user(pool: aiomysql.Pool, user_id: int) -> dict | None:
    return await db.fetchone(
        pool, "SELECT id, username, email, is_active, is_staff, created_at FROM users WHERE id=%s", (user_id,)
    )


async def get_usernames(pool: aiomysql.Pool, user_ids) -> dict[int, str]:
    """Usernames by id; unknown ids are absent."""
    ids = sorted({int(i) for i in user_ids})
    if not ids:
        return {}
    marks = ",".join(["%s"] * len(ids))
    rows = await db.fetchall(pool, f"SELECT id, username FROM users WHERE id IN ({marks})", ids)  # noqa: S608 -- only %s marks
    return {row["id"]: row["username"] for row in rows}


async def get_user_by_name(pool: aiomysql.Pool, username: str) -> dict | None:
    return await db.fetchone(
        pool, "SELECT id, username, email, password_hash, is_active, is_staff FROM users WHERE username=%s",
        (username,),
    )


async def activate_user(pool: aiomysql.Pool, user_id: int) -> bool:
    """Activate; True when this call did it, False when it was active already (the link was used)."""
    return await db.execute(pool, "UPDATE users SET is_active=1 WHERE id=%s AND is_active=0", (user_id,)) == 1


# A valid hash of a random password, so an unknown username costs as much time as a wrong password.
_DUMMY_HASH: dict[AccountsSettings, str] = {}


async def authenticate(pool: aiomysql.Pool, cfg: AccountsSettings, username: str, password: str, *,
                       gate: HashGate | None = None) -> dict | None:
    """Return the user when the password matches (active or not), else None."""
    user = await get_user_by_name(pool, username) if 0 < len(username) <= 20 else None
    if user is None:
        if cfg not in _DUMMY_HASH:
            _DUMMY_HASH[cfg] = await hash_password(cfg, "not-a-real-password", gate=gate)
        await verify_password(cfg, _DUMMY_HASH[cfg], password, gate=gate)
        return None
    if not await verify_password(cfg, user["password_hash"], password, gate=gate):
        return None
    if _hasher(cfg).check_needs_rehash(user["password_hash"]):
        await db.execute(pool, "UPDATE users SET password_hash=%s WHERE id=%s",
                         (await hash_password(cfg, password, gate=gate), user["id"]))
    return user


async def set_staff(pool: aiomysql.Pool, cfg: AccountsSettings, *, username: str, password: str,
                    email: str) -> int:
    """Create an active staff user, or make an existing one staff with this password."""
    user = await get_user_by_name(pool, username)
    if user is None:
        return await register_user(pool, cfg, username=username, password=password, email=email,
                                    is_active=True, is_staff=True)
    await db.execute(pool, "UPDATE users SET is_staff=1, is_active=1, password_hash=%s WHERE id=%s",
                     (await hash_password(cfg, password), user["id"]))
    return user["id"]

