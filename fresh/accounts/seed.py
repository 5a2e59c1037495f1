"""Development data of accounts: the demo shopper (never in production)."""

from __future__ import annotations

import secrets

from fresh.accounts import users
from fresh.settings import Settings

# Shorter than registration allows (5-20), as the issue names it: it is seeded, never registered.
DEMO_USERNAME = "demo"


def demo_password(cfg: Settings) -> str:
    """The demo shopper's password, generated once into var/."""
    path = cfg.var_path / "demo_password"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9))
    return path.read_text().strip()


async def seed_accounts(pool, redis, cfg: Settings, *, demo: bool) -> None:
    if not demo or cfg.production:
        return
    password = demo_password(cfg)
    if await users.get_user_by_name(pool, DEMO_USERNAME) is None:
        await users.register_user(pool, cfg.accounts, username=DEMO_USERNAME, password=password,
                                  email="demo@dailyfresh.local", is_active=True)
    print(f"demo shopper: username {DEMO_USERNAME}  password {password}")
