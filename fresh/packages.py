"""The domain packages and what each contributes, collected once for `make_app` and the CLI.

A package `fresh/<name>/__init__.py` may expose:
- `ROUTES`: tornado `url(...)`s and `fresh.hooks.Redirect`s;
- `HOOKS`: a `fresh.hooks.Hooks` with the hooks it provides;
- `BACKGROUND`: coroutine functions taking a `fresh.hooks.Context`, run until cancelled (fresh.background);
- `COMMANDS`: `fresh.hooks.Command`s for `python -m fresh` (they get a `fresh.hooks.Runtime`);
- `SEED`: an idempotent `async fn(pool, redis, cfg, *, demo)` for `python -m fresh seed`.
Domains never import this module (nor fresh.web or fresh.cli): they are collected, they do not collect; the types
they use to say what they contribute live in fresh.hooks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from fresh.hooks import Background, Command, Hooks

# In dependency order (DESIGN.md section 2).
PACKAGES = ("accounts", "catalog", "cart", "orders", "payments", "admin")


@dataclass(frozen=True)
class Parts:
    routes: list = field(default_factory=list)
    hooks: Hooks = field(default_factory=Hooks)
    background: list[Background] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    seeders: list[Callable] = field(default_factory=list)


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"fresh.{name}") for name in PACKAGES]


def collect() -> Parts:
    """Every package's contributions, merged (hooks through Hooks.combine)."""
    mods = modules()
    return Parts(
        routes=[route for m in mods for route in getattr(m, "ROUTES", ())],
        hooks=Hooks.combine(getattr(m, "HOOKS", Hooks()) for m in mods),
        background=[work for m in mods for work in getattr(m, "BACKGROUND", ())],
        commands=[command for m in mods for command in getattr(m, "COMMANDS", ())],
        seeders=[m.SEED for m in mods if getattr(m, "SEED", None) is not None],
    )
