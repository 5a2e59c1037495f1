"""The 概览 page: today's figures, orders to ship, low stock, top sellers and a 30-day chart drawn as SVG on the
server (readable without scripts or hovering). Days are Beijing days (UTC+8, no daylight saving)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import aiomysql
from markupsafe import Markup

from fresh import db
from fresh.admin.goods import LOW_STOCK

BEIJING = timedelta(hours=8)
DAYS = 30
PAID_STATUSES = (2, 3, 4, 5)  # paid and not refunded or closed


def beijing_today(now: datetime | None = None) -> date:
    return ((now or datetime.now(UTC)).replace(tzinfo=None) + BEIJING).date()


def day_start_utc(day: date) -> datetime:
    """Midnight of a Beijing day, as the naive UTC datetime the database stores."""
    return datetime(day.year, day.month, day.day) - BEIJING


async def summary(pool: aiomysql.Pool, *, now: datetime | None = None) -> dict:
    today = beijing_today(now)
    start = day_start_utc(today)
    first = day_start_utc(today - timedelta(days=DAYS - 1))
    marks = ",".join(["%s"] * len(PAID_STATUSES))
    async with db.cursor(pool) as cur:
        await cur.execute("SELECT COUNT(*) AS n FROM order_info WHERE created_at>=%s", (start,))
        orders_today = (await cur.fetchone())["n"]
        await cur.execute(f"SELECT COUNT(*) AS n, COALESCE(SUM(total_price+transit_price),0) AS amount"  # noqa: S608 -- %s marks
                          f" FROM order_info WHERE paid_at>=%s AND order_status IN ({marks})",
                          (start, *PAID_STATUSES))
        paid = await cur.fetchone()
        await cur.execute("SELECT COUNT(*) AS n FROM order_info WHERE order_status=2")
        to_ship = (await cur.fetchone())["n"]
        await cur.execute("SELECT id, name, stock FROM goods_sku WHERE status=1 AND stock<=%s"
                          " ORDER BY stock, id LIMIT 10", (LOW_STOCK,))
        low_stock = list(await cur.fetchall())
        await cur.execute("SELECT COUNT(*) AS n FROM goods_sku WHERE status=1 AND stock<=%s", (LOW_STOCK,))
        low_count = (await cur.fetchone())["n"]
        await cur.execute(
            "SELECT g.sku_id, s.name, SUM(g.count) AS sold,"  # noqa: S608 -- only %s marks formatted in
            " SUM(g.count*g.price) AS amount FROM order_goods g"
            " JOIN order_info o ON o.order_id=g.order_id JOIN goods_sku s ON s.id=g.sku_id"
            f" WHERE o.paid_at>=%s AND o.order_status IN ({marks})"
            " GROUP BY g.sku_id, s.name ORDER BY sold DESC, g.sku_id LIMIT 10", (first, *PAID_STATUSES))
        top = list(await cur.fetchall())
        await cur.execute(
            "SELECT DATE(paid_at + INTERVAL 8 HOUR) AS day, COUNT(*) AS n,"  # noqa: S608 -- only %s marks
            f" SUM(total_price+transit_price) AS amount FROM order_info"
            f" WHERE paid_at>=%s AND order_status IN ({marks}) GROUP BY day", (first, *PAID_STATUSES))
        by_day = {row["day"]: row for row in await cur.fetchall()}
    series = []
    for i in range(DAYS):
        day = today - timedelta(days=DAYS - 1 - i)
        row = by_day.get(day)
        series.append((day, Decimal(row["amount"]) if row else Decimal("0.00"), int(row["n"]) if row else 0))
    return {"orders_today": orders_today, "paid_today": paid["n"], "amount_today": Decimal(paid["amount"]),
            "to_ship": to_ship, "low_stock": low_stock, "low_count": low_count, "top": top, "series": series,
            "chart": chart_svg(series)}


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def chart_svg(series: list[tuple[date, Decimal, int]], *, width: int = 900, height: int = 300) -> Markup:
    """Bars for the daily paid amount (left axis, 元) and a line for the order count (right axis, 单)."""
    left, right, top, bottom = 70, 60, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    amount_max = _nice_max(float(max((a for _, a, _ in series), default=0)))
    # Four grid steps of whole orders: the right axis never reads 0.25 单.
    count_max = 4 * max(1, math.ceil(max((n for _, _, n in series), default=0) / 4))
    slot = plot_w / max(len(series), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart" role="img"'
             f' aria-label="近{len(series)}天每日支付金额与订单数">',
             f'<text x="{left}" y="18" class="chart-title">'
             f'近{len(series)}天每日支付金额（柱，元）与支付订单数（线，单）</text>']
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                     f'¥{amount_max * i / 4:,.0f}</text>')
        parts.append(f'<text x="{left + plot_w + 6}" y="{y + 4:.1f}" class="axis">{count_max * i / 4:g}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis-line"/>')
    points = []
    for i, (day, amount, n) in enumerate(series):
        x = left + slot * i
        bar_h = plot_h * float(amount) / amount_max
        if bar_h > 0:
            parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}"'
                         f' height="{bar_h:.1f}" class="bar">'
                         f'<title>{day:%m月%d日} ¥{amount:,.2f}，{n}单</title></rect>')
        points.append(f"{x + slot / 2:.1f},{top + plot_h - plot_h * n / count_max:.1f}")
        if i % 5 == 0 or i == len(series) - 1:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle" class="axis">'
                         f'{day.month}月{day.day}日</text>')
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" class="line"/>')
    if not any(a or n for _, a, n in series):
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" class="empty">'
                     f'近{len(series)}天暂无已支付订单</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" class="axis" transform="rotate(-90 14 {top + plot_h / 2})"'
                 ' text-anchor="middle">金额（元）</text>')
    parts.append(f'<text x="{width - 10}" y="{top + plot_h / 2}" class="axis"'
                 f' transform="rotate(90 {width - 10} {top + plot_h / 2})" text-anchor="middle">订单数（单）</text>')
    parts.append("</svg>")
    # Every piece above is built from numbers, dates and fixed text: nothing from input reaches the markup.
    return Markup("".join(parts))
