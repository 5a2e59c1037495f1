"""Demo pictures drawn with Pillow at seed time: one stylised picture per SKU, banners, promotions, posters.

Nothing is downloaded. Shapes are drawn at twice the size and scaled down, which smooths their edges.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
SS = 2  # supersampling factor


def _font(size: int) -> ImageFont.FreeTypeFont | None:
    """A CJK font, or None when the machine has none (pictures are then drawn without text)."""
    for path in FONT_PATHS:
        if Path(path).is_file():
            try:
                return ImageFont.truetype(path, size)
            except OSError:
                continue
    return None


def _text(d: ImageDraw.ImageDraw, xy, text: str, size: int, fill, anchor: str = "mm") -> None:
    font = _font(size)
    if font is not None:
        d.text(xy, text, font=font, fill=fill, anchor=anchor)


def _oval(d, cx, cy, rx, ry, fill, outline=None, width=0):
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill, outline=outline, width=width)


def _leaf(d, cx, cy, s, angle, fill="#4caf50"):
    a = math.radians(angle)
    tip = (cx + math.cos(a) * s, cy + math.sin(a) * s)
    side = s * 0.35
    p1 = (cx + math.cos(a) * s * 0.5 + math.cos(a + math.pi / 2) * side,
          cy + math.sin(a) * s * 0.5 + math.sin(a + math.pi / 2) * side)
    p2 = (cx + math.cos(a) * s * 0.5 - math.cos(a + math.pi / 2) * side,
          cy + math.sin(a) * s * 0.5 - math.sin(a + math.pi / 2) * side)
    d.polygon([(cx, cy), p1, tip, p2], fill=fill)
    d.line([(cx, cy), tip], fill="#2e7d32", width=max(1, int(s / 14)))


# --- items: each draws one recognisable thing centred at (cx, cy) within a radius of about r ----------------

def strawberry(d, cx, cy, r):
    for dx, dy, k in ((-0.45, 0.1, 0.55), (0.45, 0.15, 0.55), (0, -0.05, 0.65)):
        x, y, s = cx + dx * r, cy + dy * r, k * r
        d.ellipse((x - s, y - s * 0.75, x + s, y + s * 0.45), fill="#e53935")
        d.polygon([(x - s * 0.97, y - s * 0.05), (x + s * 0.97, y - s * 0.05), (x, y + s * 1.15)], fill="#e53935")
        for i in range(-2, 3):
            for j in range(0, 3):
                _oval(d, x + i * s * 0.3 + (j % 2) * s * 0.15, y - s * 0.3 + j * s * 0.35, s * 0.04, s * 0.06,
                      "#ffeb3b")
        for ang in (-150, -115, -65, -30):
            _leaf(d, x, y - s * 0.7, s * 0.5, ang, "#43a047")


def grape(d, cx, cy, r, color="#6a1b9a", light="#9c4dcc"):
    d.line([(cx, cy - r * 0.95), (cx + r * 0.1, cy - r * 0.6)], fill="#6d4c41", width=int(r * 0.06))
    _leaf(d, cx + r * 0.1, cy - r * 0.75, r * 0.55, -20, "#7cb342")
    br = r * 0.17
    rows = (4, 4, 3, 3, 2, 1)
    for row, n in enumerate(rows):
        y = cy - r * 0.5 + row * br * 1.6
        for k in range(n):
            x = cx + (k - (n - 1) / 2) * br * 1.9
            _oval(d, x, y, br, br, color)
            _oval(d, x - br * 0.35, y - br * 0.35, br * 0.25, br * 0.25, light)


def lemon(d, cx, cy, r):
    x, y = cx - r * 0.3, cy - r * 0.1
    _oval(d, x, y, r * 0.62, r * 0.45, "#fdd835")
    _oval(d, x - r * 0.62, y, r * 0.1, r * 0.08, "#fbc02d")
    _oval(d, x + r * 0.62, y, r * 0.1, r * 0.08, "#fbc02d")
    _oval(d, x - r * 0.2, y - r * 0.18, r * 0.18, r * 0.08, "#fff59d")
    x, y, s = cx + r * 0.4, cy + r * 0.35, r * 0.45
    _oval(d, x, y, s, s, "#fbc02d")
    _oval(d, x, y, s * 0.88, s * 0.88, "#fff9c4")
    for i in range(8):
        a = i * math.pi / 4
        d.pieslice((x - s * 0.8, y - s * 0.8, x + s * 0.8, y + s * 0.8), math.degrees(a) + 4,
                   math.degrees(a) + 41, fill="#fff176")
    _leaf(d, cx - r * 0.2, cy - r * 0.5, r * 0.5, -60, "#388e3c")


def kiwi(d, cx, cy, r):
    _oval(d, cx - r * 0.35, cy - r * 0.15, r * 0.55, r * 0.45, "#8d6e63")
    _oval(d, cx - r * 0.5, cy - r * 0.3, r * 0.2, r * 0.1, "#a1887f")
    x, y, s = cx + r * 0.35, cy + r * 0.25, r * 0.5
    _oval(d, x, y, s, s * 0.9, "#795548")
    _oval(d, x, y, s * 0.9, s * 0.8, "#7cb342")
    _oval(d, x, y, s * 0.3, s * 0.27, "#f1f8e9")
    for i in range(16):
        a = i * math.pi / 8
        _oval(d, x + math.cos(a) * s * 0.45, y + math.sin(a) * s * 0.4, s * 0.04, s * 0.07, "#212121")


def apple(d, cx, cy, r, color="#e53935", light="#ff8a80"):
    _oval(d, cx - r * 0.3, cy + r * 0.05, r * 0.55, r * 0.6, color)
    _oval(d, cx + r * 0.3, cy + r * 0.05, r * 0.55, r * 0.6, color)
    _oval(d, cx - r * 0.4, cy - r * 0.2, r * 0.15, r * 0.22, light)
    d.line([(cx, cy - r * 0.45), (cx + r * 0.08, cy - r * 0.8)], fill="#5d4037", width=int(r * 0.07))
    _leaf(d, cx + r * 0.06, cy - r * 0.7, r * 0.45, -30, "#43a047")


def green_apple(d, cx, cy, r):
    apple(d, cx, cy, r, "#9ccc65", "#dcedc8")


def banana(d, cx, cy, r):
    for k, off in enumerate((-0.2, 0, 0.2)):
        box = (cx - r * 1.1, cy - r * 1.3 + off * r, cx + r * 0.9, cy + r * 0.7 + off * r)
        d.arc(box, 20, 160, fill="#fdd835" if k != 1 else "#ffeb3b", width=int(r * 0.28))
    d.line([(cx - r * 0.2, cy + r * 0.55), (cx - r * 0.05, cy + r * 0.75)], fill="#5d4037", width=int(r * 0.1))
    _oval(d, cx + r * 0.9, cy - r * 0.05, r * 0.06, r * 0.06, "#3e2723")


def orange(d, cx, cy, r):
    x, y, s = cx - r * 0.25, cy - r * 0.1, r * 0.62
    _oval(d, x, y, s, s, "#fb8c00")
    for i in range(30):
        a, k = i * 2.4, (i % 5 + 1) / 6
        _oval(d, x + math.cos(a) * s * k * 0.85, y + math.sin(a) * s * k * 0.85, s * 0.02, s * 0.02, "#ef6c00")
    _oval(d, x - s * 0.35, y - s * 0.35, s * 0.2, s * 0.13, "#ffb74d")
    _leaf(d, x + s * 0.1, y - s * 0.9, r * 0.45, -40, "#2e7d32")
    x, y, s = cx + r * 0.45, cy + r * 0.45, r * 0.42
    _oval(d, x, y, s, s, "#ef6c00")
    _oval(d, x, y, s * 0.88, s * 0.88, "#ffcc80")
    for i in range(10):
        a = i * 36
        d.pieslice((x - s * 0.8, y - s * 0.8, x + s * 0.8, y + s * 0.8), a + 3, a + 33, fill="#ffa726")


def shrimp(d, cx, cy, r, color="#ff7043", dark="#e64a19"):
    n = 9
    for i in range(n):
        a = math.radians(200 - i * 26)
        rad = r * 0.55
        x, y = cx + math.cos(a) * rad, cy - math.sin(a) * rad * 0.9
        s = r * (0.3 - i * 0.022)
        _oval(d, x, y, s, s, color if i % 2 == 0 else dark)
    a = math.radians(200 - n * 26)
    tx, ty = cx + math.cos(a) * r * 0.55, cy - math.sin(a) * r * 0.5
    d.polygon([(tx, ty), (tx - r * 0.35, ty + r * 0.15), (tx - r * 0.2, ty - r * 0.2)], fill=dark)
    hx, hy = cx + math.cos(math.radians(200)) * r * 0.55, cy - math.sin(math.radians(200)) * r * 0.5
    _oval(d, hx - r * 0.05, hy - r * 0.1, r * 0.05, r * 0.05, "#212121")
    for k in range(2):
        d.line([(hx, hy - r * 0.15), (hx + r * (0.5 + k * 0.3), hy - r * (0.9 - k * 0.2))], fill=dark,
               width=max(1, int(r * 0.025)))


def scallop(d, cx, cy, r):
    d.pieslice((cx - r, cy - r * 0.9, cx + r, cy + r * 1.1), 200, 340, fill="#ffccbc")
    for i in range(9):
        a = math.radians(200 + i * 17.5)
        d.line([(cx, cy + r * 0.1), (cx + math.cos(a) * r, cy + r * 0.1 + math.sin(a) * r)], fill="#ff8a65",
               width=int(r * 0.03))
    d.polygon([(cx - r * 0.25, cy + r * 0.1), (cx + r * 0.25, cy + r * 0.1), (cx + r * 0.15, cy + r * 0.35),
               (cx - r * 0.15, cy + r * 0.35)], fill="#ffab91")
    _oval(d, cx, cy + r * 0.55, r * 0.75, r * 0.3, "#fff3e0")
    _oval(d, cx, cy + r * 0.5, r * 0.35, r * 0.18, "#ffb74d")


def fish(d, cx, cy, r, body="#78909c", belly="#cfd8dc", slim=0.22):
    for k, dy in enumerate((-0.35, 0.0, 0.35)):
        y = cy + dy * r
        x = cx + (k - 1) * r * 0.08
        _oval(d, x, y, r * 0.85, r * slim, body)
        _oval(d, x, y + r * slim * 0.35, r * 0.7, r * slim * 0.45, belly)
        d.polygon([(x + r * 0.8, y), (x + r * 1.05, y - r * 0.18), (x + r * 1.05, y + r * 0.18)], fill=body)
        _oval(d, x - r * 0.62, y - r * slim * 0.2, r * 0.05, r * 0.05, "#fff")
        _oval(d, x - r * 0.62, y - r * slim * 0.2, r * 0.025, r * 0.025, "#000")


def salmon(d, cx, cy, r):
    for k in range(4):
        x = cx - r * 0.6 + k * r * 0.38
        y = cy - r * 0.1 + (k % 2) * r * 0.08
        d.rounded_rectangle((x - r * 0.2, y - r * 0.55, x + r * 0.2, y + r * 0.55), radius=r * 0.1, fill="#ff8a65")
        for j in range(5):
            yy = y - r * 0.45 + j * r * 0.22
            d.line([(x - r * 0.18, yy), (x + r * 0.18, yy + r * 0.08)], fill="#ffe0b2", width=int(r * 0.035))
    _leaf(d, cx + r * 0.7, cy + r * 0.55, r * 0.35, -160, "#66bb6a")


def crab(d, cx, cy, r):
    for side in (-1, 1):
        for i in range(4):
            y0 = cy + r * (-0.05 + i * 0.14)
            d.line([(cx + side * r * 0.5, y0), (cx + side * r * 0.9, y0 + r * 0.1), (cx + side * r * 1.0,
                    y0 + r * 0.35)], fill="#d84315", width=int(r * 0.06))
        d.line([(cx + side * r * 0.35, cy - r * 0.3), (cx + side * r * 0.6, cy - r * 0.65)], fill="#d84315",
               width=int(r * 0.08))
        _oval(d, cx + side * r * 0.65, cy - r * 0.75, r * 0.18, r * 0.14, "#e64a19")
        tip_x = cx + side * r * 0.72
        d.polygon([(tip_x, cy - r * 0.8), (tip_x + side * r * 0.14, cy - r * 0.95), (tip_x + side * r * 0.05,
                   cy - r * 0.72)], fill="#ffffff")
        _oval(d, cx + side * r * 0.15, cy - r * 0.45, r * 0.05, r * 0.05, "#212121")
    _oval(d, cx, cy, r * 0.6, r * 0.42, "#ef6c00")
    _oval(d, cx, cy - r * 0.1, r * 0.4, r * 0.2, "#ff9800")


def pork(d, cx, cy, r, lean="#ef9a9a", fat="#fff3f0"):
    for k in range(2):
        x, y = cx - r * 0.25 + k * r * 0.4, cy - r * 0.25 + k * r * 0.45
        d.rounded_rectangle((x - r * 0.6, y - r * 0.35, x + r * 0.6, y + r * 0.35), radius=r * 0.1, fill=lean)
        for j in range(3):
            yy = y - r * 0.25 + j * r * 0.22
            d.rounded_rectangle((x - r * 0.58, yy, x + r * 0.58, yy + r * 0.07), radius=r * 0.03, fill=fat)
        d.rounded_rectangle((x - r * 0.6, y - r * 0.35, x + r * 0.6, y - r * 0.27), radius=r * 0.03, fill="#d7a49a")


def tenderloin(d, cx, cy, r):
    for k in range(3):
        x = cx - r * 0.55 + k * r * 0.55
        _oval(d, x, cy, r * 0.3, r * 0.45, "#e57373")
        _oval(d, x, cy, r * 0.22, r * 0.36, "#ef9a9a")
        _oval(d, x - r * 0.08, cy - r * 0.12, r * 0.05, r * 0.08, "#ffebee")


def beef(d, cx, cy, r):
    d.rounded_rectangle((cx - r * 0.8, cy - r * 0.5, cx + r * 0.8, cy + r * 0.5), radius=r * 0.2, fill="#b71c1c")
    for i in range(7):
        x0 = cx - r * 0.65 + i * r * 0.2
        d.line([(x0, cy - r * 0.4), (x0 + r * 0.1, cy - r * 0.1), (x0 - r * 0.05, cy + r * 0.15),
                (x0 + r * 0.08, cy + r * 0.4)], fill="#ffcdd2", width=int(r * 0.03))
    d.rounded_rectangle((cx - r * 0.8, cy + r * 0.38, cx + r * 0.8, cy + r * 0.5), radius=r * 0.06, fill="#fff8e1")


def meat_roll(d, cx, cy, r, lean="#c62828", fat="#ffebee"):
    for k, (dx, dy) in enumerate(((-0.45, -0.2), (0.45, -0.2), (0, 0.4))):
        x, y = cx + dx * r, cy + dy * r
        for j in range(5):
            s = r * (0.38 - j * 0.075)
            _oval(d, x, y, s, s, lean if (j + k) % 2 == 0 else fat)


def lamb_chop(d, cx, cy, r):
    for k in range(3):
        y = cy - r * 0.45 + k * r * 0.45
        _oval(d, cx - r * 0.15, y, r * 0.45, r * 0.22, "#d32f2f")
        _oval(d, cx - r * 0.2, y, r * 0.3, r * 0.13, "#ef5350")
        d.rounded_rectangle((cx + r * 0.2, y - r * 0.05, cx + r * 0.85, y + r * 0.05), radius=r * 0.04,
                            fill="#fffde7")
        _oval(d, cx + r * 0.88, y - r * 0.04, r * 0.05, r * 0.05, "#fffde7")
        _oval(d, cx + r * 0.88, y + r * 0.04, r * 0.05, r * 0.05, "#fffde7")


def eggs(d, cx, cy, r, shell="#ffe0b2", n=5):
    d.pieslice((cx - r * 0.95, cy - r * 0.6, cx + r * 0.95, cy + r * 0.9), 0, 180, fill="#a1887f")
    positions = [(-0.5, 0.0), (0.0, -0.12), (0.5, 0.0), (-0.25, -0.35), (0.25, -0.35), (0.0, 0.1)][:n]
    for dx, dy in positions:
        x, y = cx + dx * r, cy + dy * r
        _oval(d, x, y, r * 0.24, r * 0.31, shell, outline="#d7ccc8", width=2)
        _oval(d, x - r * 0.08, y - r * 0.12, r * 0.05, r * 0.08, "#fff8e1")
    for i in range(5):
        y = cy + r * 0.2 + i * r * 0.12
        d.line([(cx - r * 0.9 + i * r * 0.05, y), (cx + r * 0.9 - i * r * 0.05, y)], fill="#795548",
               width=int(r * 0.03))


def salted_egg(d, cx, cy, r):
    _oval(d, cx - r * 0.45, cy, r * 0.33, r * 0.42, "#b2dfdb")
    x, y = cx + r * 0.35, cy + r * 0.1
    _oval(d, x, y, r * 0.42, r * 0.5, "#b2dfdb")
    _oval(d, x, y, r * 0.36, r * 0.44, "#fafafa")
    _oval(d, x, y + r * 0.05, r * 0.2, r * 0.2, "#ff8f00")
    _oval(d, x - r * 0.06, y, r * 0.06, r * 0.06, "#ffb300")


def quail_eggs(d, cx, cy, r):
    for i in range(7):
        a = i * math.pi * 2 / 7
        x, y = cx + math.cos(a) * r * 0.5, cy + math.sin(a) * r * 0.45
        _oval(d, x, y, r * 0.18, r * 0.23, "#efebe9")
        for j in range(5):
            _oval(d, x + math.cos(j * 2.1 + i) * r * 0.1, y + math.sin(j * 1.7 + i) * r * 0.13, r * 0.035,
                  r * 0.03, "#4e342e")
    _oval(d, cx, cy, r * 0.18, r * 0.23, "#efebe9")


def chicken(d, cx, cy, r):
    d.ellipse((cx - r * 0.95, cy + r * 0.35, cx + r * 0.95, cy + r * 0.8), fill="#eeeeee", outline="#dddddd", width=2)
    _oval(d, cx, cy + r * 0.15, r * 0.72, r * 0.45, "#e0913a")
    _oval(d, cx - r * 0.15, cy + r * 0.02, r * 0.4, r * 0.2, "#f0b45c")
    for side in (-1, 1):
        _oval(d, cx + side * r * 0.45, cy - r * 0.2, r * 0.22, r * 0.3, "#d9822b")
        d.line([(cx + side * r * 0.5, cy - r * 0.4), (cx + side * r * 0.62, cy - r * 0.72)], fill="#fff8e1",
               width=int(r * 0.09))
        _oval(d, cx + side * r * 0.58, cy - r * 0.75, r * 0.06, r * 0.06, "#fff8e1")
        _oval(d, cx + side * r * 0.7, cy - r * 0.72, r * 0.06, r * 0.06, "#fff8e1")
    _leaf(d, cx + r * 0.75, cy + r * 0.45, r * 0.3, -20, "#66bb6a")


def wings(d, cx, cy, r):
    for k, (dx, dy) in enumerate(((-0.35, -0.35), (0.35, -0.15), (-0.1, 0.35))):
        x, y = cx + dx * r, cy + dy * r
        d.line([(x + r * 0.15, y), (x + r * 0.55, y + r * 0.12)], fill="#fff8e1", width=int(r * 0.09))
        _oval(d, x + r * 0.58, y + r * 0.1, r * 0.07, r * 0.07, "#fff8e1")
        _oval(d, x - r * 0.05, y - r * 0.02, r * 0.32, r * 0.2, "#e69545" if k % 2 else "#d9822b")
        _oval(d, x - r * 0.12, y - r * 0.08, r * 0.14, r * 0.06, "#f5c283")


def carrot(d, cx, cy, r):
    for k, dx in enumerate((-0.3, 0.3)):
        x = cx + dx * r
        top = cy - r * 0.35 + k * r * 0.1
        d.polygon([(x - r * 0.22, top), (x + r * 0.22, top), (x + r * 0.03, cy + r * 0.95)], fill="#fb8c00")
        for j in range(4):
            yy = top + r * 0.2 + j * r * 0.2
            d.line([(x - r * 0.12, yy), (x + r * 0.02, yy)], fill="#e65100", width=int(r * 0.025))
        for ang in (-120, -90, -60):
            _leaf(d, x, top, r * 0.5, ang, "#43a047")


def tomato(d, cx, cy, r):
    for dx, dy, s in ((-0.4, 0.2, 0.42), (0.4, 0.25, 0.4), (0, -0.2, 0.5)):
        x, y = cx + dx * r, cy + dy * r
        _oval(d, x, y, r * s, r * s * 0.88, "#e53935")
        _oval(d, x - r * s * 0.4, y - r * s * 0.3, r * s * 0.18, r * s * 0.12, "#ef9a9a")
        for i in range(5):
            _leaf(d, x, y - r * s * 0.8, r * s * 0.45, -90 + i * 72, "#388e3c")


def broccoli(d, cx, cy, r):
    d.polygon([(cx - r * 0.15, cy), (cx + r * 0.15, cy), (cx + r * 0.22, cy + r * 0.8), (cx - r * 0.22,
               cy + r * 0.8)], fill="#aed581")
    for i in range(9):
        a = math.pi + i * math.pi / 8
        _oval(d, cx + math.cos(a) * r * 0.5, cy - r * 0.1 + math.sin(a) * r * 0.45, r * 0.28, r * 0.28,
              "#2e7d32" if i % 2 else "#388e3c")
    _oval(d, cx, cy - r * 0.3, r * 0.35, r * 0.3, "#43a047")


def corn(d, cx, cy, r):
    for dx in (-0.3, 0.3):
        x = cx + dx * r
        _oval(d, x, cy, r * 0.26, r * 0.8, "#fdd835")
        for j in range(9):
            for i in range(-1, 2):
                _oval(d, x + i * r * 0.13, cy - r * 0.6 + j * r * 0.15, r * 0.055, r * 0.06, "#fbc02d")
        d.polygon([(x, cy + r * 0.9), (x - r * 0.35, cy - r * 0.1), (x - r * 0.15, cy + r * 0.3)], fill="#7cb342")
        d.polygon([(x, cy + r * 0.9), (x + r * 0.35, cy - r * 0.2), (x + r * 0.15, cy + r * 0.3)], fill="#8bc34a")


def eggplant(d, cx, cy, r):
    for dx in (-0.3, 0.25):
        x = cx + dx * r
        d.line([(x, cy - r * 0.6), (x + r * 0.15, cy + r * 0.6)], fill="#6a1b9a", width=int(r * 0.42))
        _oval(d, x + r * 0.15, cy + r * 0.6, r * 0.21, r * 0.21, "#6a1b9a")
        _oval(d, x, cy - r * 0.6, r * 0.21, r * 0.21, "#6a1b9a")
        d.line([(x - r * 0.08, cy - r * 0.4), (x, cy + r * 0.3)], fill="#ab47bc", width=int(r * 0.05))
        d.polygon([(x - r * 0.25, cy - r * 0.65), (x + r * 0.25, cy - r * 0.65), (x, cy - r * 0.95)], fill="#388e3c")


def cabbage(d, cx, cy, r):
    _oval(d, cx, cy + r * 0.1, r * 0.8, r * 0.7, "#c5e1a5")
    _oval(d, cx, cy + r * 0.15, r * 0.6, r * 0.52, "#dcedc8")
    _oval(d, cx, cy + r * 0.2, r * 0.38, r * 0.32, "#f1f8e9")
    for i in range(5):
        a = math.radians(200 + i * 35)
        d.line([(cx, cy + r * 0.3), (cx + math.cos(a) * r * 0.7, cy + r * 0.2 + math.sin(a) * r * 0.6)],
               fill="#aed581", width=int(r * 0.03))


def cucumber(d, cx, cy, r):
    for k, dy in enumerate((-0.25, 0.25)):
        y = cy + dy * r
        d.rounded_rectangle((cx - r * 0.85, y - r * 0.16, cx + r * 0.85, y + r * 0.16), radius=r * 0.16,
                            fill="#388e3c" if k else "#43a047")
        for i in range(9):
            _oval(d, cx - r * 0.7 + i * r * 0.17, y - r * 0.05 + (i % 2) * r * 0.1, r * 0.02, r * 0.02, "#c5e1a5")
    for i in range(5):
        _leaf(d, cx + r * 0.9, cy - r * 0.25, r * 0.15, i * 72, "#fdd835")


def dumplings(d, cx, cy, r):
    _oval(d, cx, cy + r * 0.2, r * 0.95, r * 0.6, "#e3f2fd", outline="#90caf9", width=3)
    for dx, dy in ((-0.45, 0.05), (0.0, -0.1), (0.45, 0.05), (-0.22, 0.4), (0.22, 0.4)):
        x, y = cx + dx * r, cy + dy * r
        d.chord((x - r * 0.3, y - r * 0.25, x + r * 0.3, y + r * 0.25), 180, 360, fill="#fffde7", outline="#e0d8b0",
                width=2)
        for i in range(4):
            px = x - r * 0.18 + i * r * 0.12
            d.line([(px, y - r * 0.02), (px + r * 0.04, y - r * 0.14)], fill="#e0d8b0", width=2)


def tangyuan(d, cx, cy, r):
    d.chord((cx - r * 0.9, cy - r * 0.6, cx + r * 0.9, cy + r * 0.9), 0, 180, fill="#ef5350")
    _oval(d, cx, cy + r * 0.15, r * 0.9, r * 0.2, "#ffcdd2")
    for dx, dy in ((-0.4, 0.0), (0.0, -0.1), (0.4, 0.0), (-0.2, -0.3), (0.2, -0.3)):
        _oval(d, cx + dx * r, cy + dy * r, r * 0.22, r * 0.2, "#ffffff", outline="#eeeeee", width=2)


def ice_cream(d, cx, cy, r):
    for k, (dx, color) in enumerate(((-0.45, "#fff59d"), (0.0, "#f8bbd0"), (0.45, "#d7ccc8"))):
        x = cx + dx * r
        d.polygon([(x - r * 0.2, cy), (x + r * 0.2, cy), (x + r * 0.15, cy + r * 0.6), (x - r * 0.15,
                   cy + r * 0.6)], fill="#90caf9" if k % 2 else "#bbdefb")
        _oval(d, x, cy - r * 0.05, r * 0.23, r * 0.22, color)
        _oval(d, x - r * 0.06, cy - r * 0.12, r * 0.05, r * 0.04, "#ffffff")


def pancake(d, cx, cy, r):
    for k in range(3):
        y = cy + r * 0.3 - k * r * 0.22
        _oval(d, cx, y, r * 0.8, r * 0.3, "#ffcc80" if k % 2 else "#ffb74d", outline="#e0a060", width=2)
    for i in range(12):
        a = i * 0.9
        _oval(d, cx + math.cos(a) * r * 0.5, cy - r * 0.14 + math.sin(a) * r * 0.15, r * 0.04, r * 0.025,
              "#8d6e63")


def buns(d, cx, cy, r):
    _oval(d, cx, cy + r * 0.45, r * 0.95, r * 0.3, "#d7b98e")
    d.rectangle((cx - r * 0.95, cy + r * 0.45, cx + r * 0.95, cy + r * 0.7), fill="#c8a26b")
    for dx, dy in ((-0.5, 0.1), (0.0, 0.05), (0.5, 0.1), (-0.25, -0.3), (0.25, -0.3)):
        x, y = cx + dx * r, cy + dy * r
        d.pieslice((x - r * 0.28, y - r * 0.28, x + r * 0.28, y + r * 0.28), 180, 360, fill="#fffdf5",
                   outline="#e8e0c8", width=2)
        for i in range(3):
            d.arc((x - r * 0.12 - i * 3, y - r * 0.2, x + r * 0.12 + i * 3, y), 200, 340, fill="#e0d6b8", width=2)


ITEMS = {fn.__name__: fn for fn in (
    strawberry, grape, lemon, kiwi, apple, green_apple, banana, orange, shrimp, scallop, fish, salmon, crab, pork,
    tenderloin, beef, meat_roll, lamb_chop, eggs, salted_egg, quail_eggs, chicken, wings, carrot, tomato, broccoli,
    corn, eggplant, cabbage, cucumber, dumplings, tangyuan, ice_cream, pancake, buns,
)}
ITEMS["green_grape"] = lambda d, cx, cy, r: grape(d, cx, cy, r, "#9ccc65", "#dcedc8")
ITEMS["prawn"] = lambda d, cx, cy, r: shrimp(d, cx, cy, r, "#bcaaa4", "#8d6e63")
ITEMS["saury"] = lambda d, cx, cy, r: fish(d, cx, cy, r, "#546e7a", "#eceff1", 0.14)
ITEMS["brown_eggs"] = lambda d, cx, cy, r: eggs(d, cx, cy, r, "#d7a86e", 6)
ITEMS["lamb_roll"] = lambda d, cx, cy, r: meat_roll(d, cx, cy, r, "#d84315", "#fbe9e7")
ITEMS["beef_roll"] = lambda d, cx, cy, r: meat_roll(d, cx, cy, r, "#b71c1c", "#fce4ec")


def _canvas(w: int, h: int, top: str, bottom: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A vertical two-colour gradient at supersampled size."""
    img = Image.new("RGB", (w * SS, h * SS), top)
    d = ImageDraw.Draw(img)
    t, b = Image.new("RGB", (1, 1), top).getpixel((0, 0)), Image.new("RGB", (1, 1), bottom).getpixel((0, 0))
    for y in range(h * SS):
        k = y / (h * SS)
        d.line([(0, y), (w * SS, y)], fill=tuple(int(t[i] + (b[i] - t[i]) * k) for i in range(3)))
    return img, d


def _save(img: Image.Image, path: Path, size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    img.resize(size, Image.LANCZOS).save(tmp, "PNG", optimize=True)
    tmp.replace(path)


TINTS = ("#fff8e1", "#f1f8e9", "#e3f2fd", "#fce4ec", "#f3e5f5", "#e0f7fa", "#fff3e0", "#e8f5e9", "#ede7f6")


def sku_picture(path: Path, *, kind: str, name: str, seed: int) -> None:
    """A 400×400 product picture: the drawn item on a soft tint with the product name."""
    w = h = 400
    img, d = _canvas(w, h, "#ffffff", TINTS[seed % len(TINTS)])
    ITEMS[kind](d, w * SS / 2, h * SS * 0.44, w * SS * 0.33)
    _text(d, (w * SS / 2, h * SS * 0.9), name, 26 * SS, "#555555")
    _save(img, path, (w, h))


# Slides, tiles and posters carry no text: their copy (goods_types.slogan, index_banners.title, ...) is HTML laid
# over the picture, so it stays readable, translatable and editable without redrawing. The left part of each is
# left plain for it.

def banner_picture(path: Path, *, kinds: list[str], colors: tuple[str, str]) -> None:
    """A 760×270 carousel slide: room for the copy on the left, a row of drawn goods on the right."""
    w, h = 760, 270
    img, d = _canvas(w, h, *colors)
    for i, kind in enumerate(kinds):
        ITEMS[kind](d, (380 + i * 120) * SS, (130 + (i % 2) * 20) * SS, 62 * SS)
    _save(img, path, (w, h))


def promo_picture(path: Path, *, kind: str, colors: tuple[str, str]) -> None:
    """A 240×135 promotion tile: room for the copy on the left, a drawn item on the right."""
    w, h = 240, 135
    img, d = _canvas(w, h, *colors)
    ITEMS[kind](d, 185 * SS, 80 * SS, 42 * SS)
    _save(img, path, (w, h))


def poster_picture(path: Path, *, kind: str, colors: tuple[str, str]) -> None:
    """A 200×300 floor poster: room for the slogan at the top, a drawn item below."""
    w, h = 200, 300
    img, d = _canvas(w, h, *colors)
    ITEMS[kind](d, 100 * SS, 210 * SS, 70 * SS)
    _save(img, path, (w, h))
