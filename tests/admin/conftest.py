"""Admin fixtures: a staff user and their client, a shopper client, catalog rows, picture bytes."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from fresh import db
from tests.helpers import Client, create_user


@pytest.fixture
async def staff(pool, settings) -> dict:
    user_id = await create_user(pool, settings, "boss_01", staff=True)
    return {"id": user_id, "username": "boss_01"}


@pytest.fixture
async def staff_client(base_url, staff) -> Client:
    c = Client(base_url)
    await c.login(staff["username"])
    return c


@pytest.fixture
async def shop_rows(pool) -> dict:
    """One category, one SPU and one on-sale SKU (stock 20)."""
    async with db.cursor(pool) as cur:
        await cur.execute("INSERT INTO goods_types (name, logo) VALUES ('新鲜水果', 'fruit')")
        type_id = cur.lastrowid
        await cur.execute("INSERT INTO goods (name, detail) VALUES ('草莓', '<p>甜</p>')")
        spu_id = cur.lastrowid
        await cur.execute(
            "INSERT INTO goods_sku (type_id, goods_id, name, `desc`, price, unite, image, stock, status)"
            " VALUES (%s,%s,'大兴草莓','香甜',%s,'500g','',20,1)", (type_id, spu_id, Decimal("25.80")))
        sku_id = cur.lastrowid
    return {"type_id": type_id, "spu_id": spu_id, "sku_id": sku_id}


def png_bytes(width: int = 64, height: int = 64, color=(55, 171, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def multipart(fields: dict, files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = "----fresh-test-boundary-7MA4YWxkTrZu0gW"
    parts = []
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{v}\r\n'.encode())
    for name, (filename, data, ctype) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def post_multipart(client: Client, path: str, fields: dict, files: dict | None = None):
    body, ctype = multipart({**fields, "_xsrf": client.xsrf}, files or {})
    return await client.request("POST", path, body=body, headers={"Content-Type": ctype})
