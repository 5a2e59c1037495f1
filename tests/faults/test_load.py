"""Load: 1,000 buyers at once for a SKU with 100 in stock, spread over two app instances (each with its own pool
and Redis client, sharing MariaDB and Redis as separate processes would): exactly 100 orders, stock 0, and every
buyer gets an answer (an order or "out of stock"), none an error. MariaDB is the test's private server: the shared
one's max_connections is spent by the other test runs on this machine."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.web import create_signed_value

from fresh import db, sessions
from fresh.cart.cart import cart_key
from fresh.sessions import encode_cookie
from tests.helpers import count

BUYERS = 1000
STOCK = 100


async def test_a_thousand_buyers_for_a_hundred_across_two_instances(make_shop, private_mariadb, faults_db, redis,
                                                                     settings, tally):
    pool = faults_db
    # Limits sized for a burst of 500 requests per instance on a shared 2-core machine: this test is about
    # correctness under contention, not about the 503 a saturated instance rightly answers (test_faults.py).
    shops = [await make_shop(db_port=private_mariadb.port,
                             db_overrides={"pool_max": 30, "acquire_timeout": 90.0, "query_timeout": 90.0},
                             redis_overrides={"timeout": 60.0, "max_connections": BUYERS})
             for _ in range(2)]
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('新鲜水果', 'fruit')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('抢购草莓', '<p>甜</p>')")
        goods_id = cur.lastrowid
        await cur.execute("INSERT INTO goods_sku (type_id, goods_id, name, price, unite, image, stock, sales, status)"
                          " VALUES (%s,%s,'抢购草莓',%s,'500g','',%s,0,1)", (type_id, goods_id, Decimal("1.00"), STOCK))
        sku = cur.lastrowid
        # Buyers straight into the tables: the load is the orders, not a thousand password hashes.
        await cur.executemany("INSERT INTO users (username, email, password_hash, is_active) VALUES (%s,%s,'x',1)",
                              [(f"rush_{i:04d}", f"rush_{i:04d}@example.com") for i in range(BUYERS)])
        await cur.execute("SELECT id, username FROM users WHERE username LIKE 'rush\\_%%' ORDER BY id")
        buyers = list(await cur.fetchall())
        await cur.executemany("INSERT INTO addresses (user_id, receiver, addr, zip_code, phone, is_default)"
                              " VALUES (%s,'抢购者','北京市海淀区1号','100080','13800138000',1)",
                              [(b["id"],) for b in buyers])
        await cur.execute("SELECT id, user_id FROM addresses WHERE user_id IN (SELECT id FROM users WHERE username"
                          " LIKE 'rush\\_%%')")
        addr_of = {row["user_id"]: row["id"] for row in await cur.fetchall()}
    async with redis.pipeline(transaction=False) as pipe:
        for b in buyers:
            pipe.hset(cart_key(b["id"]), str(sku), "1")
        await pipe.execute()
    cookies = {}
    for b in buyers:
        session = await sessions.create_session(redis, user_id=b["id"], username=b["username"], is_staff=False,
                                                ttl=3600)
        cookies[b["id"]] = create_signed_value(settings.web.cookie_secret, "sid", encode_cookie(session)).decode()

    http = AsyncHTTPClient(force_instance=True, max_clients=BUYERS)
    xsrf = "0123456789abcdef0123456789abcdef"

    async def buy(i: int, b: dict):
        body = f"addr_id={addr_of[b['id']]}&pay_method=1&sku_ids={sku}&_xsrf={xsrf}"
        request = HTTPRequest(shops[i % 2].base_url + "/order/commit", method="POST", body=body,
                              headers={"Cookie": f"sid={cookies[b['id']]}; _xsrf={xsrf}",
                                       "X-Requested-With": "XMLHttpRequest",
                                       "Content-Type": "application/x-www-form-urlencoded"},
                              request_timeout=120, connect_timeout=60)
        return await http.fetch(request, raise_error=False)

    try:
        replies = await asyncio.gather(*(buy(i, b) for i, b in enumerate(buyers)))
    finally:
        http.close()
    tally.count("load buyers", BUYERS)
    outcomes: dict[tuple[int, int], int] = {}
    for r in replies:
        import json

        reply = json.loads(r.body) if r.body and r.body.startswith(b"{") else {"res": -99, "errmsg": repr(r)}
        key = (r.code, reply["res"]) if r.code != 503 else (r.code, reply["res"], reply.get("errmsg"))
        outcomes[key] = outcomes.get(key, 0) + 1
    assert outcomes == {(200, 5): STOCK, (409, 6): BUYERS - STOCK}, outcomes
    assert await count(pool, "order_info") == STOCK
    row = await db.fetchone(pool, "SELECT stock, sales FROM goods_sku WHERE id=%s", (sku,))
    assert (row["stock"], row["sales"]) == (0, STOCK)
    assert {r.request.url.split("/order")[0] for r in replies} == {s.base_url for s in shops}
