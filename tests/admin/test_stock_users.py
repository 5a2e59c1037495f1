"""Stock adjustments (conditional, racing buyers) and user management (sessions end, self and last-staff rules)."""

from __future__ import annotations

import asyncio

from fresh import db
from fresh.cart.cart import cart_key
from tests.helpers import Client, add_address, count, create_user


async def test_adjustments_apply_record_and_refuse_going_below_zero(staff_client: Client, pool, shop_rows):
    sku = shop_rows["sku_id"]
    ok = await staff_client.post(f"/admin/goods/{sku}/stock", {"reason": "in", "delta": "30", "note": "到货"})
    assert ok.code == 302
    assert (await staff_client.post(f"/admin/goods/{sku}/stock", {"reason": "loss", "delta": "-5"})).code == 302
    too_much = await staff_client.post(f"/admin/goods/{sku}/stock", {"reason": "loss", "delta": "-46"})
    assert too_much.code == 409 and "库存不足：当前库存45" in too_much.text
    for bad in ({"reason": "in", "delta": "-5"}, {"reason": "loss", "delta": "5"}, {"reason": "x", "delta": "1"},
                {"reason": "count", "delta": "0"}, {"reason": "count", "delta": "abc"}):
        got = await staff_client.post(f"/admin/goods/{sku}/stock", bad)
        assert got.code == 400, (bad, got)
    row = await db.fetchone(pool, "SELECT stock FROM goods_sku WHERE id=%s", (sku,))
    assert row["stock"] == 45
    history = await db.fetchall(pool, "SELECT reason, delta, stock_before, stock_after FROM stock_adjustments"
                                      " ORDER BY id")
    assert [(h["reason"], h["delta"], h["stock_before"], h["stock_after"]) for h in history] == [
        ("in", 30, 20, 50), ("loss", -5, 50, 45)]
    page = await staff_client.get(f"/admin/goods/{sku}/stock")
    assert "到货" in page.text and "入库" in page.text and "损耗" in page.text
    assert await count(pool, "audit_log", "entity='stock'") == 2
    assert (await staff_client.post("/admin/goods/999999/stock", {"reason": "in", "delta": "1"})).code == 404


async def test_a_loss_racing_50_buyers_never_goes_below_zero_and_loses_no_sale(staff_client: Client, base_url, pool,
                                                                               redis, settings, shop_rows):
    sku = shop_rows["sku_id"]  # stock 20
    buyers = []
    for i in range(50):
        user_id = await create_user(pool, settings, f"buyer_{i:03d}")
        addr_id = await add_address(pool, user_id)
        await redis.hset(cart_key(user_id), str(sku), "1")
        client = Client(base_url)
        await client.login(f"buyer_{i:03d}")
        buyers.append((client, addr_id))
    commits = [client.post("/order/commit", {"addr_id": str(addr), "pay_method": "3", "sku_ids": str(sku)},
                           ajax=True) for client, addr in buyers]
    loss = staff_client.post(f"/admin/goods/{sku}/stock", {"reason": "loss", "delta": "-8"})
    *answers, adjusted = await asyncio.gather(*commits, loss)
    placed = sum(1 for a in answers if a.code == 200 and a.json().get("res") == 5)
    sold = await count(pool, "order_goods", "sku_id=%s", (sku,))
    assert placed == sold and placed > 0
    losses = await count(pool, "stock_adjustments", "sku_id=%s", (sku,))
    assert adjusted.code == (302 if losses else 409)
    row = await db.fetchone(pool, "SELECT stock, sales FROM goods_sku WHERE id=%s", (sku,))
    assert row["stock"] == 20 - sold - 8 * losses >= 0
    assert row["sales"] == sold


async def test_deactivating_a_user_ends_their_sessions_at_once(staff_client: Client, user_client: Client, user,
                                                              pool):
    assert (await user_client.get("/user")).code == 200
    got = await staff_client.post(f"/admin/users/{user['id']}/active", {"value": "0"})
    assert got.code == 302
    assert (await user_client.get("/user")).code == 302  # logged out
    relogin = await user_client.post("/user/login", {"username": user["username"], "pwd": "password123"})
    assert relogin.code == 403 and "账户未激活" in relogin.text
    assert await count(pool, "audit_log", "entity='user' AND action='deactivate'") == 1
    assert (await staff_client.post(f"/admin/users/{user['id']}/active", {"value": "1"})).code == 302
    assert (await db.fetchone(pool, "SELECT is_active FROM users WHERE id=%s", (user["id"],)))["is_active"] == 1


async def test_staff_rules(staff_client: Client, staff, user_client: Client, user, base_url, pool):
    assert (await staff_client.post(f"/admin/users/{staff['id']}/staff", {"value": "0"})).code == 409
    assert (await staff_client.post(f"/admin/users/{staff['id']}/active", {"value": "0"})).code == 409
    # Grant: the new staff user logs in again and gets in.
    assert (await staff_client.post(f"/admin/users/{user['id']}/staff", {"value": "1"})).code == 302
    assert (await user_client.get("/admin")).code == 302  # the old shopper session ended
    await user_client.login(user["username"])
    assert (await user_client.get("/admin")).code == 200
    # Two staff demoting each other at once: exactly one wins, one active staff user remains.
    answers = await asyncio.gather(staff_client.post(f"/admin/users/{user['id']}/staff", {"value": "0"}),
                                   user_client.post(f"/admin/users/{staff['id']}/staff", {"value": "0"}))
    assert sorted(a.code for a in answers) == [302, 409], answers
    assert await count(pool, "users", "is_staff=1 AND is_active=1") == 1
    # The winner is still staff; the loser's session ended with its staff flag.
    winner, loser = (staff_client, user) if answers[0].code == 302 else (user_client, staff)
    assert (await winner.post("/admin/users/999999/staff", {"value": "1"})).code == 404
    assert (await winner.post(f"/admin/users/{loser['id']}/staff", {"value": "x"})).code == 400
    other = user_client if winner is staff_client else staff_client
    assert (await other.post(f"/admin/users/{loser['id']}/staff", {"value": "1"})).code == 401


async def test_user_list_search(staff_client: Client, user, staff):
    page = await staff_client.get("/admin/users?q=alice")
    assert "alice_01@example.com" in page.text and "boss_01@example.com" not in page.text
    assert "共 1 条，1 页" in page.text
    assert "boss_01@example.com" in (await staff_client.get("/admin/users?role=staff")).text
