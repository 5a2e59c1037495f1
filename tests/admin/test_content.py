"""Categories and index content: CRUD, reorder, and changes seen by a second app instance at once."""

from __future__ import annotations

import pytest

from fresh import db
from fresh.redis_client import create_redis
from fresh.web import make_app
from tests.admin.conftest import png_bytes, post_multipart
from tests.helpers import AppServer, Client, count


@pytest.fixture
async def second_instance(settings, pool):
    """Another process of the shop: its own app, Redis client and per-process caches, the same stores."""
    redis = create_redis(settings.redis)
    async with AppServer() as server:
        server.serve(make_app(settings, pool=pool, redis=redis))
        yield server.url
    await redis.aclose()


async def test_edits_reach_another_instance_at_once(staff_client: Client, second_instance, pool, user, shop_rows):
    shopper = Client(second_instance)
    await shopper.login(user["username"])
    sku = shop_rows["sku_id"]
    assert "新鲜水果" in (await shopper.get("/")).text  # cached on instance B now
    assert "大兴草莓" in (await shopper.get(f"/goods/{sku}")).text
    got = await staff_client.post(f"/admin/content/categories/{shop_rows['type_id']}", {"name": "当季水果",
                                                                                         "logo": "fruit"})
    assert got.code == 302
    index = await shopper.get("/")
    assert ">当季水果</a>" in index.text and ">新鲜水果</a>" not in index.text  # the category strip
    got = await post_multipart(staff_client, "/admin/content/banners/new", {"sku_id": str(sku)},
                               {"picture": ("b.png", png_bytes(600, 200), "image/png")})
    assert got.code == 302, got
    banner = await db.fetchone(pool, "SELECT image FROM index_banners")
    assert banner["image"] in (await shopper.get("/")).text
    form = {"name": "大兴奶油草莓", "desc": "", "price": "30.00", "unite": "500g", "type_id": str(shop_rows["type_id"]),
            "goods_id": str(shop_rows["spu_id"]), "status": "1"}
    assert (await staff_client.post(f"/admin/goods/{sku}", form)).code == 302
    assert "大兴奶油草莓" in (await shopper.get(f"/goods/{sku}")).text
    assert (await staff_client.post("/admin/goods/sale", {"action": "off", "sku_id": str(sku)})).code == 302
    assert (await shopper.get(f"/goods/{sku}")).code == 404
    assert banner["image"] not in (await shopper.get("/")).text


async def test_content_crud_reorder_and_validation(staff_client: Client, pool, shop_rows):
    for name in ("甲促销", "乙促销"):
        got = await post_multipart(staff_client, "/admin/content/promotions/new", {"name": name, "url": "/list/1/1"},
                                   {"picture": ("p.png", png_bytes(300, 120), "image/png")})
        assert got.code == 302, got
    rows = await db.fetchall(pool, "SELECT id, name FROM index_promotions ORDER BY `index`, id")
    assert [r["name"] for r in rows] == ["甲促销", "乙促销"]
    assert (await staff_client.post(f"/admin/content/promotions/{rows[1]['id']}/move",
                                    {"direction": "up"})).code == 302
    rows = await db.fetchall(pool, "SELECT id, name FROM index_promotions ORDER BY `index`, id")
    assert [r["name"] for r in rows] == ["乙促销", "甲促销"]
    bad = await post_multipart(staff_client, "/admin/content/promotions/new",
                               {"name": "", "url": "javascript:alert(1)"}, {})
    assert bad.code == 400 and "请填写名称" in bad.text and "链接须为站内路径" in bad.text and "请上传图片" in bad.text
    assert (await staff_client.post(f"/admin/content/promotions/{rows[0]['id']}/delete")).code == 302
    assert await count(pool, "index_promotions") == 1
    # A category still holding SKUs is not deleted.
    refused = await staff_client.post(f"/admin/content/categories/{shop_rows['type_id']}/delete")
    assert refused.code == 409
    assert await count(pool, "goods_types") == 1
    shown = await staff_client.post("/admin/content/type_goods/new", {"type_id": str(shop_rows["type_id"]),
                                                                       "sku_id": str(shop_rows["sku_id"]),
                                                                       "display_type": "1"})
    assert shown.code == 302
    wrong = await staff_client.post("/admin/content/type_goods/new", {"type_id": "999", "sku_id": "999",
                                                                       "display_type": "7"})
    assert wrong.code == 400 and "商品SKU编号不存在" in wrong.text
    entities = {r["entity"] for r in await db.fetchall(pool, "SELECT DISTINCT entity FROM audit_log")}
    assert entities == {"promotion", "type_goods"}
