"""The audit log (a row for each kind of write, read-only), the dashboard, and migration 0003 from a populated 0001
database."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from fresh import db, migrate
from fresh.admin import audit
from fresh.admin.dashboard import chart_svg
from tests.admin.conftest import png_bytes, post_multipart
from tests.admin.test_orders import make_order
from tests.helpers import Client


async def test_every_kind_of_write_leaves_an_audit_row(staff_client: Client, pool, user, shop_rows):
    sku, spu, type_id = shop_rows["sku_id"], shop_rows["spu_id"], shop_rows["type_id"]
    order_id = await make_order(pool, user["id"], sku)
    writes = [
        ("/admin/spu/new", {"name": "蓝莓", "detail": "<p>好</p>"}),
        (f"/admin/goods/{sku}", {"name": "草莓", "price": "9.90", "unite": "盒", "type_id": str(type_id),
                                 "goods_id": str(spu), "status": "1"}),
        ("/admin/goods/sale", {"action": "off", "sku_id": str(sku)}),
        (f"/admin/goods/{sku}/stock", {"reason": "count", "delta": "3"}),
        ("/admin/content/categories/new", {"name": "新分类", "logo": "veg"}),
        ("/admin/content/type_goods/new", {"type_id": str(type_id), "sku_id": str(sku), "display_type": "0"}),
        (f"/admin/users/{user['id']}/active", {"value": "0"}),
        (f"/admin/orders/{order_id}/ship", {}),
    ]
    for path, form in writes:
        got = await staff_client.post(path, form)
        assert got.code == 302, (path, got)
    for kind, path, fields in (("banners", "/admin/content/banners/new", {"sku_id": str(sku)}),
                               ("promotions", "/admin/content/promotions/new", {"name": "促", "url": "/"}),
                               ("pictures", f"/admin/goods/{sku}/pictures", {})):
        got = await post_multipart(staff_client, path, fields, {"picture": ("p.png", png_bytes(), "image/png")})
        assert got.code == 302, (kind, got)
    rows = await db.fetchall(pool, "SELECT * FROM audit_log ORDER BY id")
    assert {r["entity"] for r in rows} == {str(e) for e in audit.Entity} - {"sku"} | {"sku"}
    assert all(r["staff_name"] == "boss_01" and r["at"] is not None for r in rows)
    page = await staff_client.get("/admin/audit?entity=order")
    assert order_id in page.text and "发货" in page.text and "共 1 条，1 页" in page.text
    # Browsable, not editable: the log has no write route.
    assert (await staff_client.post("/admin/audit", {"id": str(rows[0]["id"])})).code == 405


def test_chart_has_axes_labels_and_an_empty_state():
    days = [(date(2026, 11, d), Decimal("0.00"), 0) for d in range(1, 31)]
    empty = str(chart_svg(days))
    assert "近30天暂无已支付订单" in empty and "金额（元）" in empty and "11月1日" in empty
    days[-1] = (date(2026, 11, 30), Decimal("1234.50"), 3)
    full = str(chart_svg(days))
    assert "<rect" in full and "¥1,234.50，3单" in full and "暂无" not in full


async def test_dashboard_figures(staff_client: Client, pool, user, shop_rows):
    await make_order(pool, user["id"], shop_rows["sku_id"])
    page = await staff_client.get("/admin")
    assert page.code == 200
    assert "¥61.60" in page.text and "大兴草莓" in page.text and "<svg" in page.text


@pytest.fixture
async def old_database(settings):
    """A database holding only 0001 and shop data, as a deployed shop would before this release."""
    cfg = dataclasses.replace(settings.db, name=settings.db.name + "_mig")
    await migrate.create_database(cfg, drop=True)
    pool = await db.create_pool(cfg)
    first = migrate.MIGRATIONS / "0001_initial.sql"
    async with db.cursor(pool) as cur:
        for statement in migrate.split_statements(first.read_text(encoding="utf-8")):
            await cur.execute(statement)
        await cur.execute("CREATE TABLE schema_migrations (version VARCHAR(255) NOT NULL PRIMARY KEY,"
                          " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))")
        await cur.execute("INSERT INTO schema_migrations (version) VALUES ('0001_initial')")
        await cur.execute("INSERT INTO users (username, email, password_hash, is_active) VALUES ('old','o@x.cn','h',1)")
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('水果','fruit'), ('蔬菜','veg')")
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('苹果','<p>脆</p>')")
        await cur.execute("INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock)"
                          " VALUES (1,1,'红富士',6.50,'500g','demo/apple.png',7)")
        await cur.execute("INSERT INTO goods_images (sku_id, image) VALUES (1, 'demo/apple2.png')")
        await cur.execute("INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method,"
                          " total_count, total_price, order_status, expires_at) VALUES ('o1',1,'张','北京','100000',"
                          "'13800000000',3,1,6.50,2,UTC_TIMESTAMP(6))")
    yield pool
    pool.close()
    await pool.wait_closed()
    drop = await db.create_pool(cfg, database="", minsize=1, maxsize=1)
    async with db.cursor(drop) as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{cfg.name}`")
    drop.close()
    await drop.wait_closed()


async def test_migration_0003_from_a_populated_0001_database(old_database):
    pool = old_database
    applied = await migrate.migrate(pool)
    assert "0003_admin" in applied
    sku = await db.fetchone(pool, "SELECT name, price, stock, image FROM goods_sku WHERE id=1")
    assert (sku["name"], sku["price"], sku["stock"], sku["image"]) == ("红富士", Decimal("6.50"), 7, "demo/apple.png")
    assert (await db.fetchone(pool, "SELECT position FROM goods_images WHERE sku_id=1"))["position"] == 0
    assert [r["position"] for r in await db.fetchall(pool, "SELECT position FROM goods_types")] == [0, 0]
    assert (await db.fetchone(pool, "SELECT order_status FROM order_info WHERE order_id='o1'"))["order_status"] == 2
    for table in ("audit_log", "stock_adjustments", "order_shipments"):
        assert await db.fetchone(pool, f"SELECT COUNT(*) AS n FROM {table}") == {"n": 0}  # noqa: S608 -- table names from a constant tuple
    assert await migrate.migrate(pool) == []  # nothing left to apply


async def test_a_failing_migration_names_its_statement_and_reruns_after_the_fix(old_database, tmp_path):
    pool = old_database
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in migrate.MIGRATIONS.glob("*.sql"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    admin = folder / "0003_admin.sql"
    good = admin.read_text(encoding="utf-8")
    # Broken part-way: the tables before it are created, the version is not recorded.
    admin.write_text(good.replace("ALTER TABLE goods_types ADD COLUMN", "ALTER TABLE goods_typos ADD COLUMN"),
                     encoding="utf-8")
    with pytest.raises(migrate.MigrationError) as failed:
        await migrate.migrate(pool, folder=folder)
    message = str(failed.value)
    assert "0003_admin" in message and "statement 5 of 5" in message and "goods_typos" in message
    assert await db.fetchone(pool, "SELECT version FROM schema_migrations WHERE version='0003_admin'") is None
    admin.write_text(good, encoding="utf-8")
    assert "0003_admin" in await migrate.migrate(pool, folder=folder)  # the same file runs again from its start
    assert (await db.fetchone(pool, "SELECT COUNT(*) AS n FROM goods_types WHERE position=0"))["n"] == 2
