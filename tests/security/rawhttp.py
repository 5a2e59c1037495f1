"""Raw HTTP over a socket, for requests no HTTP client would send (huge heads, lying lengths, slow senders)."""

from __future__ import annotations

import asyncio
import json


async def exchange(port: int, data: bytes, *, read_timeout: float = 20.0) -> bytes:
    """Send `data`, then read until the server closes the connection (or `read_timeout`, a safety net)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            pass  # the server may answer and close before taking everything
        chunks = []
        try:
            async with asyncio.timeout(read_timeout):
                while chunk := await reader.read(65536):
                    chunks.append(chunk)
        except ConnectionError:
            pass
        return b"".join(chunks)
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    """The status code of the first response in `response` (0 when there is none)."""
    if not response.startswith(b"HTTP/1."):
        return 0
    return int(response.split(b" ", 2)[1])


def message_of(response: bytes) -> str:
    """The `errmsg` of a JSON error answer."""
    return json.loads(response.split(b"\r\n\r\n", 1)[1])["errmsg"]
