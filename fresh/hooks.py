"""The seams through which an earlier domain reaches a later one, as one typed object.

Domains depend one way (accounts, catalog -> cart -> orders -> payments -> admin, DESIGN.md section 2). Where an
earlier domain needs something only a later one knows (the catalog page shows comments that live with orders;
orders must stop an Alipay payment before it closes an order), it declares a named, typed hook here, and the later
package provides it in its `HOOKS = Hooks(...)`. `fresh.packages.collect()` merges every package's into one
`Hooks` once, for `make_app` and the CLI alike; callers read `ctx.hooks.<name>` and skip hooks nobody provides.

This module imports no domain at run time: the domain types below are for the type checker only.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import aiomysql
    import redis.asyncio as aioredis

    from fresh.orders.closing import PaymentStop
    from fresh.sessions import Session
    from fresh.settings import Settings


class Context(Protocol):
    """What hooks, background tasks and package commands get: the Application in the web process, a Runtime
    outside it."""

    cfg: Settings
    db: aiomysql.Pool
    # The read pool, for reads that may lag (fresh.replica): `db` itself unless a replica is configured.
    reads: Any
    redis: aioredis.Redis
    hooks: Hooks


@dataclass
class Runtime:
    """A Context outside the web process (`python -m fresh <command>`)."""

    cfg: Settings
    db: aiomysql.Pool
    redis: aioredis.Redis
    hooks: Hooks

    @property
    def reads(self) -> aiomysql.Pool:
        """Commands read from the primary."""
        return self.db


class CartCount(Protocol):
    async def __call__(self, redis: aioredis.Redis, session: Session | None, /) -> int: ...


class CartCountQueue(Protocol):
    def __call__(self, pipe: Any, session: Session, /) -> Callable[[Any], int]: ...


class OnLogin(Protocol):
    async def __call__(self, ctx: Context, old: Session | None, new: Session, /) -> None: ...


class UserHistory(Protocol):
    async def __call__(self, ctx: Context, user_id: int, /) -> list[dict]: ...


class SkuComments(Protocol):
    async def __call__(self, ctx: Context, sku_id: int, /) -> list[dict]: ...


class StopPayment(Protocol):
    async def __call__(self, ctx: Context, order: dict, /) -> PaymentStop: ...


# A background task: runs until cancelled (fresh.background.BackgroundTasks owns them).
Background = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Redirect:
    """A fixed redirect in a package's ROUTES (`/cart/` -> `/cart`): make_app serves it with the web layer's
    redirect handler, so a route list needs nothing from fresh.web."""

    pattern: str
    url: str


@dataclass(frozen=True)
class Command:
    """A `python -m fresh <name>` subcommand a package adds (fresh.cli runs it with a Runtime)."""

    name: str
    help: str
    run: Callable[[Runtime, argparse.Namespace], Awaitable[None]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


@dataclass(frozen=True)
class Hooks:
    """Every hook of the shop. A single hook is provided by at most one package; a tuple hook by any number."""

    # cart: the header's cart count, alone or queued on a page's own Redis pipeline (returns the reply's parser).
    cart_count: CartCount | None = None
    cart_count_queue: CartCountQueue | None = None
    # cart: hand the guest session's data over to the user's at login.
    on_login: tuple[OnLogin, ...] = ()
    # catalog: the user center's recently viewed goods.
    user_history: UserHistory | None = None
    # orders: the goods detail page's comments.
    sku_comments: SkuComments | None = None
    # payments: before any close of an unpaid order (cancel, expiry, admin), make sure no payment can still land,
    # or learn that one already has (fresh.orders.closing.close_order).
    stop_payment: StopPayment | None = None

    @classmethod
    def combine(cls, parts: Iterable[Hooks]) -> Hooks:
        """One Hooks from every package's: tuple hooks are concatenated in package order; a single hook given
        by two packages is a programming error, refused at start-up."""
        merged: dict[str, Any] = {}
        for part in parts:
            for f in dataclasses.fields(cls):
                value = getattr(part, f.name)
                if isinstance(value, tuple):
                    merged[f.name] = merged.get(f.name, ()) + value
                elif value is not None:
                    if merged.get(f.name) is not None:
                        raise ValueError(f"hook {f.name} is provided twice")
                    merged[f.name] = value
        return cls(**merged)
