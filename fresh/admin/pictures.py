"""Uploaded pictures: checked by their real content (Pillow must open and decode them), bounded in bytes and in
pixels, resized to the size the pages show, re-encoded (which drops whatever else the file carried) and stored
under var/media/ with a name made from the content hash (the same picture uploaded twice is stored once).

Decoding and encoding are CPU work: they run in the default executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fresh.errors import BadRequest

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 25_000_000  # 5000 x 5000: the decoder never allocates a bomb's worth of memory
MAX_SIDE = 800  # the detail page shows 350 px; 800 keeps it sharp on dense screens
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
HELP = "JPG/PNG/WEBP，不超过2MB，边长不超过5000像素"


@dataclass(frozen=True)
class Stored:
    path: str  # relative to var/media, what image columns hold
    width: int
    height: int


def process(data: bytes) -> tuple[bytes, str, int, int]:
    """(encoded bytes, extension, width, height) of an uploaded picture, or BadRequest."""
    if not data:
        raise BadRequest("请选择图片文件")
    if len(data) > MAX_BYTES:
        raise BadRequest("图片不能超过2MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in FORMATS:
                raise BadRequest("只支持JPG、PNG、WEBP图片")
            # Checked from the header, before any pixel is decoded.
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise BadRequest("图片像素过大（边长不超过5000像素）")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            if fmt == "JPEG":
                img.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            elif fmt == "WEBP":
                img.save(out, "WEBP", quality=85)
            else:
                img.save(out, "PNG", optimize=True)
            return out.getvalue(), FORMATS[fmt], img.width, img.height
    except BadRequest:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadRequest("文件不是有效的图片") from exc


def _write(media: Path, data: bytes, ext: str) -> str:
    digest = hashlib.sha256(data).hexdigest()[:32]
    rel = f"upload/{digest[:2]}/{digest}.{ext}"
    target = media / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # readers never see half a file
    return rel


async def store_upload(media: Path, data: bytes) -> Stored:
    """Check, resize and store an uploaded picture; BadRequest with the reason when it is not acceptable."""
    loop = asyncio.get_running_loop()
    encoded, ext, width, height = await loop.run_in_executor(None, process, data)
    rel = await loop.run_in_executor(None, _write, media, encoded, ext)
    return Stored(path=rel, width=width, height=height)
