"""Detail and list pages run on indexes only (EXPLAIN: no full scan, no filesort)."""

from __future__ import annotations

import pytest

from fresh import db
from fresh.catalog import goods


@pytest.mark.parametrize("sql,args", [
    (goods.LIST_COUNT_SQL, (1, 1200)),
    (goods.list_sql("default"), (1, 12, 12)),
    (goods.list_sql("price"), (1, 12, 0)),
    (goods.list_sql("hot"), (1, 12, 0)),
    (goods.list_sql("price"), (1, 12, (goods.LIST_MAX_PAGES - 1) * 12)),
    (goods.NEW_SQL, (1, 2)),
    (goods.DETAIL_SQL, (1,)),
    (goods.SIBLINGS_SQL, (1, 1)),
])
async def test_catalog_queries_use_indexes(demo, pool, sql, args):
    plan = await db.fetchall(pool, "EXPLAIN " + sql, args)
    for row in plan:
        if row["table"].startswith("<derived"):
            continue  # the bounded count's own result (at most LIST_MAX_PAGES pages of ids)
        assert row["type"] not in ("ALL", "index"), row
        assert row["key"], row
        assert "filesort" not in (row["Extra"] or ""), row
