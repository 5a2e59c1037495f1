"""The process's Prometheus metrics (prometheus-client), all defined here so README's table has one source.

Every process serves its own view on GET /metrics (its own port); Prometheus scrapes each instance and sums or
takes quantiles across them. Gauges that describe the app's resources (pool, websockets) are sampled at scrape.
"""

from __future__ import annotations

import os
import subprocess
import tomllib

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)

from fresh.settings import ROOT

# The *_created series double every counter for no use here (Prometheus knows when a process restarted).
disable_created_metrics()

# Seconds: the hot paths answer in milliseconds, a page in tens of them, a slow one in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds from Alipay's gmt_payment to our record: a notify takes about a second, the watcher up to its backoff.
PAYMENT_DELAY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0)
WS_DELAY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# --- HTTP ------------------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("fresh_http_requests", "HTTP requests answered, by route name, method and status.",
                        ["route", "method", "status"])
HTTP_LATENCY = Histogram("fresh_http_request_duration_seconds",
                         "Time from the request's arrival to its last byte written, by route name, method and status.",
                         ["route", "method", "status"], buckets=LATENCY_BUCKETS)

# --- catalog ---------------------------------------------------------------------------------------------------
CATALOG_PAGE_RENDERS = Counter("fresh_catalog_page_renders",
                               "Shared catalog pages rendered (misses of the page cache), by page (index, detail).",
                               ["page"])

# --- cart and orders -------------------------------------------------------------------------------------------
CART_OPS = Counter("fresh_cart_operations", "Cart AJAX operations (add, update, delete) by the result answered.",
                   ["op", "result"])
ORDER_COMMITS = Counter("fresh_order_commits",
                        "POST /order/commit answers by res code (5 placed; 1-4, 6, 7 refused; error: no res) and "
                        "stock strategy.", ["res", "strategy"])
ORDER_RETRIES = Counter("fresh_order_retries", "Order transactions started again, by stock strategy and reason "
                        "(lost_race: optimistic version check, deadlock: deadlock or lock wait timeout).",
                        ["strategy", "reason"])
ORDER_DEADLOCKS = Counter("fresh_order_deadlock_errors",
                          "Deadlocks and lock wait timeouts met by order transactions (retried or not), by strategy.",
                          ["strategy"])

# --- payments --------------------------------------------------------------------------------------------------
PAYMENTS = Counter("fresh_payments", "Payments reported to mark_paid, by source (notify, watcher, return, admin) and "
                   "outcome (recorded: this call recorded it; repeat: it already was).", ["source", "outcome"])
PAYMENT_DELAY = Histogram("fresh_payment_record_delay_seconds",
                          "Seconds from Alipay's gmt_payment (send_pay_date) to the shop recording the payment.",
                          ["source"], buckets=PAYMENT_DELAY_BUCKETS)
ORDERS_EXPIRED = Counter("fresh_orders_expiry", "Due orders the expiry sweep handled, by outcome (closed, paid: paid "
                         "at the last moment, gone: no longer unpaid, deferred: gateway failure, backing off, leased: "
                         "another process had it).", ["outcome"])
ORDERS_CLOSED = Counter("fresh_orders_closed", "Unpaid orders closed (stock returned), by source (web: the owner's "
                        "cancel, expiry, admin).", ["source"])
REFUNDS = Counter("fresh_refunds", "Refund requests sent to Alipay, by outcome (confirmed, retry, refused).",
                  ["outcome"])
NOTIFY_REFUSED = Counter("fresh_alipay_notify_refused", "Alipay notifies answered `fail`, by reason.", ["reason"])
WATCHER_QUERIES = Counter("fresh_watcher_queries", "trade.query calls made by the payment watcher, by outcome.",
                          ["outcome"])
WATCHER_BACKLOG = Gauge("fresh_watcher_backlog",
                        "Orders being paid (payment started, not yet paid or expired) at the process's last watcher "
                        "sweep; a sweep reads at most 500.")

# --- live status -----------------------------------------------------------------------------------------------
WS_OPEN = Gauge("fresh_websockets_open", "Open order-status websockets in this process.")
WS_MESSAGES = Counter("fresh_websocket_messages", "Status messages sent to websockets.")
WS_DELAY = Histogram("fresh_websocket_publish_delay_seconds",
                     "Seconds from the PUBLISH of a status change to its send on this process's websockets "
                     "(wall clocks: instances on several machines need NTP).", buckets=WS_DELAY_BUCKETS)

# --- resources -------------------------------------------------------------------------------------------------
DB_POOL_SIZE = Gauge("fresh_db_pool_size", "MariaDB connections the pool holds (free, in use and connecting).")
DB_POOL_MAX = Gauge("fresh_db_pool_max", "The pool's maximum size (db.pool_max).")
DB_POOL_IN_USE = Gauge("fresh_db_pool_in_use", "MariaDB connections taken from the pool.")
DB_POOL_WAITING = Gauge("fresh_db_pool_waiting", "Coroutines waiting for a pool connection (db.connection()).")
DB_REPLICA_UP = Gauge("fresh_db_replica_up", "1 while reads that may lag go to the replica (db.replica); 0 while it is "
                      "left alone after a failure and they go to the primary, or when no replica is configured.")
DB_REPLICA_FALLBACKS = Counter(
    "fresh_db_replica_fallbacks", "Blocks of reads meant for the replica that ran on the primary, by reason: connect, "
    "query (the replica failed), down (it is left alone after a failure), busy (its pool was full).", ["reason"])
REDIS_ERRORS = Counter("fresh_redis_errors", "Redis connection errors and timeouts, by where they were met.",
                       ["source"])
BUILD = Info("fresh_build", "The running code: version (pyproject.toml) and commit.")


def sample_pool(pool) -> None:
    """Set the pool gauges from an aiomysql pool (at scrape time)."""
    DB_POOL_SIZE.set(pool.size)
    DB_POOL_MAX.set(pool.maxsize)
    DB_POOL_IN_USE.set(pool.size - pool.freesize)


def render() -> tuple[bytes, str]:
    """The exposition (text format) and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_build_set = False


def set_build_info() -> None:
    """Fill fresh_build once per process: the version from pyproject.toml, the commit from FRESH_BUILD_COMMIT (for
    a deploy without .git) or git. Runs at start-up (make_app), never on the event loop's hot path."""
    global _build_set
    if _build_set:
        return
    _build_set = True
    try:
        with open(ROOT / "pyproject.toml", "rb") as fh:
            version = str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    commit = os.environ.get("FRESH_BUILD_COMMIT", "")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                    text=True, timeout=2, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = "unknown"
    BUILD.info({"version": version, "commit": commit or "unknown"})
