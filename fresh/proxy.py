"""Behind nginx: the client's address and scheme from X-Real-IP / X-Forwarded-For / X-Forwarded-Proto, believed
only on connections whose peer is a trusted proxy.

Tornado's own `xheaders=True` believes them from whoever connects, so anyone who can reach an instance's port
directly could choose the address the login throttles count, or claim https. This adapter does what Tornado's does
(per request, undone before the next one on the same keep-alive connection) after checking the peer.
"""

from __future__ import annotations

from tornado import httputil, netutil


def parse_trusted(value: str) -> frozenset[str]:
    """`web.trusted_proxies`: comma-separated addresses."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def client_address(headers: httputil.HTTPHeaders) -> str | None:
    """The visitor's address as nginx reports it: X-Real-IP (nginx's $remote_addr), else the last hop of
    X-Forwarded-For (the one nginx appended; earlier entries are whatever the client sent)."""
    ip = headers.get("X-Real-Ip", "").strip()
    if not ip:
        ip = headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return ip if ip and netutil.is_valid_ip(ip) else None


class TrustedProxyHeaders(httputil.HTTPMessageDelegate):
    """Wraps one request's delegate; rewrites the connection context's remote_ip/protocol for a trusted peer."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, request_conn, trusted: frozenset[str]):
        self.delegate = delegate
        self.context = getattr(request_conn, "context", None)
        self.trusted = trusted
        self.saved: tuple[str, str] | None = None

    def headers_received(self, start_line, headers: httputil.HTTPHeaders):
        context = self.context
        address = getattr(context, "address", None)
        # The socket's peer, never a value a header set (remote_ip is restored after every request anyway).
        peer = address[0] if isinstance(address, tuple) and address else None
        if peer in self.trusted:
            self.saved = (context.remote_ip, context.protocol)
            ip = client_address(headers)
            if ip:
                context.remote_ip = ip
            proto = headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                context.protocol = proto
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes):
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()
        self._restore()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()
        self._restore()

    def _restore(self) -> None:
        if self.saved is not None:
            self.context.remote_ip, self.context.protocol = self.saved
            self.saved = None
