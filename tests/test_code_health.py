"""What a reader of the code may rely on: every setting is read, nothing defined goes unused, domains do not reach
up into the web layer. Static checks over the source (no services needed)."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections import Counter
from pathlib import Path

import pytest

from fresh.packages import PACKAGES
from fresh.settings import ROOT, Settings

FRESH = ROOT / "fresh"
# The shop's code: what the settings and the definitions must be used by.
SHOP = [*FRESH.rglob("*.py"), ROOT / "app.py"]
# Methods called by a framework or protocol, never by name in this code.
FRAMEWORK = {
    "compute_etag", "get_current_user", "log_exception", "set_close_callback", "write_headers", "connection_made",
    "connection_lost", "ping_timeout", "on_message", "on_close",
}


def _source(paths) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in paths}


def _settings_fields(cls=Settings, section: str = "") -> list[tuple[str, str]]:
    fields = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            fields += _settings_fields(type(default), f.name)
        else:
            fields.append((section, f.name))
    return fields


def _attributes_read(sources: dict[Path, str]) -> set[str]:
    return {node.attr for text in sources.values() for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)}


def test_every_setting_is_read_by_the_shop():
    # Read as an attribute somewhere outside fresh/settings.py (a section is passed to the code that needs it, so
    # the read is `cfg.pool_max` as often as `cfg.db.pool_max`).
    shop = _source(SHOP)
    read = _attributes_read({p: t for p, t in shop.items() if p.name != "settings.py"})
    # The settings' own properties (var_path reads var_dir).
    read |= {node.attr for node in ast.walk(ast.parse(shop[FRESH / "settings.py"]))
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"}
    unread = [f"{section}.{name}".lstrip(".") for section, name in _settings_fields() if name not in read]
    assert unread == [], f"settings nothing reads: {unread}"


def test_every_function_and_class_is_used():
    shop = _source(SHOP)
    # Used by name anywhere in the code, its scripts, benchmarks, templates or tests (test helpers the shop
    # exposes, such as the sandbox's wait_idle, count).
    everything = "\n".join([*shop.values(), *_source([*(ROOT / "scripts").rglob("*.py"), *(ROOT / "bench").rglob(
        "*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "templates").rglob("*.html")]).values()])
    words = Counter(re.findall(r"\w+", everything))
    unused = []
    for path, text in shop.items():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            name = node.name
            if name.startswith("__") or name in FRAMEWORK:
                continue
            if words[name] < 2:
                unused.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert unused == [], f"defined but never used: {unused}"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_domain_modules_do_not_import_the_web_layer(package):
    # Only a package's handlers.py speaks HTTP; no other module of it imports the web layer, or the handlers (which
    # would bring the web layer along), except __init__.py, which lists the handlers' routes.
    upward = {}
    for path in sorted((FRESH / package).glob("*.py")):
        if path.name == "handlers.py":
            continue
        above = ("fresh.web.", "fresh.cli.") + (() if path.name == "__init__.py" else (f"fresh.{package}.handlers",))
        found = sorted(name for name in _imports(path) if name in ("fresh.web", "fresh.cli", "fresh.packages")
                       or name.startswith(above))
        if found:
            upward[path.name] = found
    assert upward == {}, f"fresh/{package} imports the layers above it: {upward}"
