"""app.py as a real process: it serves, holds websockets, and on SIGTERM stops its background work and exits."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from fresh import db
from fresh.settings import ROOT
from tests.helpers import Client, create_user, free_port, process_env

EXIT_WITHIN = 5.0


async def wait_until_serving(base_url: str, process) -> None:
    http = AsyncHTTPClient()
    for _ in range(300):
        assert process.returncode is None, "app.py exited before serving"
        try:
            r = await http.fetch(base_url + "/healthz", raise_error=False, request_timeout=2)
            if r.code == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("app.py did not start serving")


async def insert_order(pool, user_id: int) -> str:
    order_id = "20260101000000" + f"{user_id:06d}"
    await db.execute(
        pool,
        "INSERT INTO order_info (order_id, user_id, receiver, addr, zip_code, phone, pay_method, total_count,"
        " total_price, transit_price, expires_at) VALUES (%s,%s,'张三','北京','100080','13800138000',3,1,10,10,%s)",
        (order_id, user_id, datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=30)),
    )
    return order_id


async def test_process_with_open_websockets_exits_soon_after_sigterm(pool, settings):
    user_id = await create_user(pool, settings, "sockets_01")
    order_id = await insert_order(pool, user_id)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), f"--port={port}", env=process_env(settings, base_url=base_url),
        cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    sockets = []
    try:
        await wait_until_serving(base_url, process)
        client = Client(base_url)
        await client.login("sockets_01")
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        for _ in range(3):
            sockets.append(await websocket_connect(HTTPRequest(f"ws://127.0.0.1:{port}/ws/orders/{order_id}",
                                                               headers={"Cookie": cookie})))
        for ws in sockets:
            assert '"status": 1' in await asyncio.wait_for(ws.read_message(), 10)

        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), EXIT_WITHIN)
        except TimeoutError:
            raise AssertionError(f"app.py still running {EXIT_WITHIN} s after SIGTERM") from None
        stderr = (await process.stderr.read()).decode()
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
        # The sockets were closed by the server, not left to time out.
        for ws in sockets:
            assert await asyncio.wait_for(ws.read_message(), 5) is None
    finally:
        for ws in sockets:
            ws.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
