"""Goods forms: good and bad input, pictures checked by content, the sanitizer, on/off sale, unknown ids."""

from __future__ import annotations

import io
import os
import re
from decimal import Decimal

import pytest
from PIL import Image

from fresh import db
from fresh.cart.cart import AddRes
from tests.admin.conftest import png_bytes, post_multipart
from tests.helpers import Client, count


def sku_form(rows: dict, **changes) -> dict:
    form = {"name": "有机蓝莓", "desc": "酸甜", "price": "39.90", "unite": "125g", "stock": "30",
            "type_id": str(rows["type_id"]), "goods_id": str(rows["spu_id"]), "status": "1"}
    form.update(changes)
    return form


async def test_create_sku_with_a_picture_shows_it_to_shoppers(staff_client: Client, client: Client, pool, shop_rows,
                                                              settings):
    got = await post_multipart(staff_client, "/admin/goods/new", sku_form(shop_rows),
                               {"picture": ("berry.png", png_bytes(1600, 1200), "image/png")})
    assert got.code == 302 and got.location == "/admin/goods", got
    row = await db.fetchone(pool, "SELECT * FROM goods_sku WHERE name='有机蓝莓'")
    assert row["price"] == Decimal("39.90") and row["stock"] == 30 and row["status"] == 1
    assert re.fullmatch(r"upload/[0-9a-f]{2}/[0-9a-f]{32}\.png", row["image"])
    stored = settings.var_path / "media" / row["image"]
    with Image.open(stored) as img:
        assert max(img.size) == 800  # resized to the pages' size
    assert await count(pool, "goods_images", "sku_id=%s AND image=%s", (row["id"], row["image"])) == 1
    detail = await client.get(f"/goods/{row['id']}")
    assert detail.code == 200 and "有机蓝莓" in detail.text and row["image"] in detail.text
    picture = await client.get(f"/media/{row['image']}")
    assert picture.code == 200
    assert "已保存" in (await staff_client.get("/admin/goods")).text  # the flash message


@pytest.mark.parametrize("price", ["0", "-1", "1e12", "abc", "0.001", "1000000", "", "１２"])
async def test_bad_prices_are_refused_next_to_the_field_and_input_kept(staff_client: Client, pool, shop_rows, price):
    got = await staff_client.post("/admin/goods/new", sku_form(shop_rows, price=price, name="保留我"))
    assert got.code == 400
    assert "价格须为0.01–999999.99" in got.text
    assert 'value="保留我"' in got.text and f'value="{price}"' in got.text
    assert await count(pool, "goods_sku") == 1 and await count(pool, "audit_log") == 0


@pytest.mark.parametrize("price,stored", [("0.01", "0.01"), ("999999.99", "999999.99"), ("12.5", "12.50")])
async def test_price_bounds(staff_client: Client, pool, shop_rows, price, stored):
    got = await staff_client.post("/admin/goods/new", sku_form(shop_rows, price=price))
    assert got.code == 302
    row = await db.fetchone(pool, "SELECT price FROM goods_sku WHERE name='有机蓝莓'")
    assert row["price"] == Decimal(stored)


async def test_bad_stock_unit_and_choices(staff_client: Client, pool, shop_rows):
    got = await staff_client.post("/admin/goods/new", sku_form(shop_rows, stock="-5", unite="", type_id="999",
                                                               goods_id="x"))
    assert got.code == 400
    for message in ("库存须为0–1000000的整数", "请填写单位", "请选择分类", "请选择所属SPU"):
        assert message in got.text
    assert await count(pool, "goods_sku") == 1


async def test_edit_keeps_stock_and_records_before_and_after(staff_client: Client, pool, shop_rows):
    sku = shop_rows["sku_id"]
    got = await staff_client.post(f"/admin/goods/{sku}", sku_form(shop_rows, price="19.90", stock="999",
                                                                   name="大兴草莓"))
    assert got.code == 302
    row = await db.fetchone(pool, "SELECT price, stock FROM goods_sku WHERE id=%s", (sku,))
    assert row["price"] == Decimal("19.90") and row["stock"] == 20  # stock moves only by adjustments
    audit = await db.fetchone(pool, "SELECT * FROM audit_log WHERE entity='sku' AND action='update'")
    assert audit["staff_name"] == "boss_01" and audit["entity_id"] == str(sku)
    assert '"price": "25.80"' in audit["before_json"] and '"price": "19.90"' in audit["after_json"]


@pytest.mark.parametrize("path,post", [
    ("/admin/goods/999999", 404), ("/admin/goods/999999/stock", 404), ("/admin/spu/999999", 404),
    ("/admin/content/categories/999999", 404), ("/admin/content/nothing", 405),
    ("/admin/orders/nope", 405),  # the order page and the content lists are read-only: their forms post elsewhere
])
async def test_unknown_ids_are_404(staff_client: Client, path, post):
    assert (await staff_client.get(path)).code == 404
    assert (await staff_client.post(path, {"name": "x"})).code == post


async def test_not_an_image_is_refused(staff_client: Client, pool, shop_rows):
    got = await post_multipart(staff_client, "/admin/goods/new", sku_form(shop_rows),
                               {"picture": ("evil.png", b"<?php echo 1; ?>" * 20, "image/png")})
    assert got.code == 400 and "文件不是有效的图片" in got.text
    assert await count(pool, "goods_sku") == 1


async def test_a_gif_is_refused(staff_client: Client, pool, shop_rows):
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    got = await post_multipart(staff_client, f"/admin/goods/{shop_rows['sku_id']}/pictures", {},
                               {"picture": ("a.gif", out.getvalue(), "image/gif")})
    assert got.code == 400 and "只支持JPG、PNG、WEBP图片" in got.text


async def test_a_20_mb_image_is_refused(staff_client: Client, pool, shop_rows):
    big = png_bytes(64, 64) + b"\0" * (20 * 1024 * 1024)
    got = await post_multipart(staff_client, "/admin/goods/new", sku_form(shop_rows),
                               {"picture": ("big.png", big, "image/png")})
    assert got.code == 413
    assert await count(pool, "goods_sku") == 1


async def test_a_picture_over_2_mb_is_refused_by_the_form(staff_client: Client, pool, shop_rows):
    noisy = Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3))  # noise does not compress
    out = io.BytesIO()
    noisy.save(out, "PNG", compress_level=0)
    assert 2 * 1024 * 1024 < len(out.getvalue()) < 3 * 1024 * 1024
    got = await post_multipart(staff_client, "/admin/goods/new", sku_form(shop_rows),
                               {"picture": ("big.png", out.getvalue(), "image/png")})
    assert got.code == 400 and "图片不能超过2MB" in got.text
    assert 'value="有机蓝莓"' in got.text


async def test_a_png_with_a_huge_pixel_size_is_refused_before_decoding(staff_client: Client, pool, shop_rows):
    # A 1-bit 30000 x 30000 PNG of one colour: tiny on disk, 900 million pixels when decoded.
    out = io.BytesIO()
    Image.new("1", (30000, 30000)).save(out, "PNG", optimize=True)
    assert len(out.getvalue()) < 1024 * 1024
    got = await post_multipart(staff_client, "/admin/goods/new", sku_form(shop_rows),
                               {"picture": ("bomb.png", out.getvalue(), "image/png")})
    assert got.code == 400 and ("图片像素过大" in got.text or "文件不是有效的图片" in got.text)
    assert await count(pool, "goods_sku") == 1


async def test_several_pictures_one_main(staff_client: Client, pool, shop_rows):
    sku = shop_rows["sku_id"]
    for color in ((255, 0, 0), (0, 0, 255)):
        got = await post_multipart(staff_client, f"/admin/goods/{sku}/pictures", {},
                                   {"picture": ("p.png", png_bytes(50, 50, color), "image/png")})
        assert got.code == 302
    pics = await db.fetchall(pool, "SELECT id, image FROM goods_images WHERE sku_id=%s ORDER BY position", (sku,))
    assert len(pics) == 2
    main = (await db.fetchone(pool, "SELECT image FROM goods_sku WHERE id=%s", (sku,)))["image"]
    assert main == pics[0]["image"]  # the first picture of a SKU without one became the main one
    assert (await staff_client.post(f"/admin/goods/{sku}/pictures/{pics[1]['id']}", {"action": "main"})).code == 302
    assert (await db.fetchone(pool, "SELECT image FROM goods_sku WHERE id=%s", (sku,)))["image"] == pics[1]["image"]
    assert (await staff_client.post(f"/admin/goods/{sku}/pictures/{pics[1]['id']}", {"action": "delete"})).code == 302
    assert (await db.fetchone(pool, "SELECT image FROM goods_sku WHERE id=%s", (sku,)))["image"] == pics[0]["image"]
    assert (await staff_client.post(f"/admin/goods/{sku}/pictures/99999", {"action": "main"})).code == 404
    assert await count(pool, "audit_log", "entity='picture'") == 4


async def test_spu_detail_is_sanitized_on_save(staff_client: Client, client: Client, pool, shop_rows):
    dirty = ('<p onclick="x()">好吃<script>alert(1)</script></p><img src="x.png" onerror="alert(2)">'
             '<a href="javascript:alert(3)">链接</a><img src="javascript:alert(4)">')
    got = await staff_client.post(f"/admin/spu/{shop_rows['spu_id']}", {"name": "草莓", "detail": dirty})
    assert got.code == 302
    stored = (await db.fetchone(pool, "SELECT detail FROM goods WHERE id=%s", (shop_rows["spu_id"],)))["detail"]
    assert "<script" not in stored and "onerror" not in stored and "onclick" not in stored
    assert "javascript:" not in stored and "好吃" in stored
    page = await client.get(f"/goods/{shop_rows['sku_id']}")
    assert "好吃" in page.text and "alert(" not in page.text


async def test_off_sale_sku_disappears_and_cannot_be_bought(staff_client: Client, user_client: Client, pool,
                                                           shop_rows):
    sku = shop_rows["sku_id"]
    assert (await user_client.get(f"/goods/{sku}")).code == 200
    got = await staff_client.post("/admin/goods/sale", {"action": "off", "sku_id": [str(sku)]})
    assert got.code == 302
    assert (await user_client.get(f"/goods/{sku}")).code == 404
    assert "大兴草莓" not in (await user_client.get(f"/list/{shop_rows['type_id']}/1")).text
    assert "大兴草莓" not in (await user_client.get("/search?q=草莓")).text
    added = await user_client.post("/cart/add", {"sku_id": str(sku), "count": "1"}, ajax=True)
    assert added.code == 404 and added.json()["res"] == AddRes.NO_SKU, added
    assert await count(pool, "audit_log", "action='off_sale'") == 1
    assert (await staff_client.post("/admin/goods/sale", {"action": "on", "sku_id": [str(sku)]})).code == 302
    assert (await user_client.get(f"/goods/{sku}")).code == 200


async def test_goods_list_filters_search_and_paging(staff_client: Client, pool, shop_rows):
    async with db.cursor(pool) as cur:
        for i in range(25):
            await cur.execute(
                "INSERT INTO goods_sku (type_id, goods_id, name, price, unite, stock, status)"
                " VALUES (%s,%s,%s,1,'个',%s,%s)",
                (shop_rows["type_id"], shop_rows["spu_id"], f"苹果{i:02d}", i, i % 2))
    page = await staff_client.get("/admin/goods")
    assert "共 26 条，2 页" in page.text
    assert "苹果" in (await staff_client.get("/admin/goods?page=2")).text
    assert "共 13 条" in (await staff_client.get("/admin/goods?sale=off")).text  # even i: off sale
    assert "共 1 条" in (await staff_client.get("/admin/goods?stock=out")).text
    assert "共 10 条" in (await staff_client.get("/admin/goods?stock=low")).text
    assert "共 1 条" in (await staff_client.get("/admin/goods?q=苹果07")).text
    assert "共 0 条" in (await staff_client.get("/admin/goods?q=%25_!")).text
    # Past the last page: the last page, the other arguments kept (nonsense ones are ignored there as here).
    beyond = await staff_client.get("/admin/goods?page=999&sort=nonsense&type_id=abc")
    assert (beyond.code, beyond.location) == (302, "/admin/goods?sort=nonsense&type_id=abc&page=2"), beyond
    assert (await staff_client.get(beyond.location)).code == 200
