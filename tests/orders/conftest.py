"""Orders fixtures: one app per stock strategy (the SKU factory and the buyers are in tests/fixtures/orders.py)."""

from __future__ import annotations

import pytest

from fresh.web import make_app
from tests.conftest import make_settings
from tests.helpers import AppServer

STRATEGIES = ("atomic", "pessimistic", "optimistic")


@pytest.fixture(scope="session", params=STRATEGIES)
async def shop(request, pool, redis, tmp_path_factory):
    """(base_url, settings) of an app using one stock strategy, served on its own port."""
    async with AppServer() as server:
        cfg = make_settings(tmp_path_factory.mktemp(f"var-{request.param}"), server.port,
                            orders={"stock_strategy": request.param})
        server.serve(make_app(cfg, pool=pool, redis=redis))
        yield server.url, cfg
