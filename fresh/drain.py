"""Graceful stop on SIGTERM: take nothing new, finish what is in flight, send websockets elsewhere.

supervisor stops a process with SIGTERM and kills it stopwaitsecs later; nginx, meanwhile, must not lose a request
it cannot resend (a POST it has written). So the process
1. sets `app.draining` (/readyz answers 503) and closes its listening sockets: nginx's new connections are refused
   and go to another instance, whatever the method, since nothing was sent;
2. answers every further request on its open keep-alive connections with `Connection: close`, so nginx stops
   reusing them one request at a time rather than finding them closed under a request it has just written;
3. closes its websockets with 1001 "going away": the page reconnects (to another instance, see static/js/pay.js)
   and is sent the order's current status on connect, so it misses no change;
4. waits until no request is in flight and none has started for QUIET_SECONDS, at most web.drain_timeout;
then the caller cancels the background tasks and closes what is left (idle connections).
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("fresh.drain")
GOING_AWAY = 1001
# A request nginx may still be sending on a connection it took from its keep-alive cache: closing that connection
# now would lose it. Once nothing has arrived for this long, nginx has no reason left to use one.
QUIET_SECONDS = 0.3
POLL_SECONDS = 0.05


async def drain(app, servers, *, timeout: float) -> bool:
    """Steps 1-4 above; True when everything finished within `timeout` seconds."""
    log.info("draining: %d requests in flight, %d websockets (at most %.1fs)", len(app.in_flight),
             len(app.websockets), timeout)
    app.draining = True
    for server in servers:
        server.stop()
        # Shared by every connection of the server: read by each request as its head arrives.
        server.conn_params.no_keep_alive = True
    for socket in list(app.websockets):
        socket.close(GOING_AWAY, "going away")
    deadline = app.clock() + timeout
    while True:
        now = app.clock()
        busy = len(app.in_flight) + len(app.websockets)
        if not busy and now - app.last_request_at >= QUIET_SECONDS:
            return True
        if now >= deadline:
            log.warning("drain: %d requests and %d websockets still open after %.1fs", len(app.in_flight),
                        len(app.websockets), timeout)
            return False
        await asyncio.sleep(POLL_SECONDS)
