"""Outgoing mail: written to <var>/outbox/*.eml in development, sent over SMTP (in a thread) when configured."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

from fresh.settings import Settings

log = logging.getLogger("fresh.mail")
_pending: set[asyncio.Task] = set()


def outbox_dir(cfg: Settings) -> Path:
    return cfg.var_path / "outbox"


def build_message(cfg: Settings, *, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.mail.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@dailyfresh>"
    msg.set_content(body)
    return msg


async def send_mail(cfg: Settings, *, to: str, subject: str, body: str) -> None:
    """Queue a mail; never blocks the event loop and never fails the request that sends it."""
    msg = build_message(cfg, to=to, subject=subject, body=body)
    loop = asyncio.get_running_loop()
    if not cfg.mail.smtp_host:
        await loop.run_in_executor(None, _write_eml, outbox_dir(cfg), msg)
        return
    task = asyncio.ensure_future(_send_smtp(cfg, msg))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def _write_eml(folder: Path, msg: EmailMessage) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(msg))
    tmp.replace(path)
    return path


async def _send_smtp(cfg: Settings, msg: EmailMessage) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, _smtp_send, cfg, msg)
    except Exception:
        log.exception("sending mail to %s failed", msg["To"])


def _smtp_send(cfg: Settings, msg: EmailMessage) -> None:
    m = cfg.mail
    with smtplib.SMTP(m.smtp_host, m.smtp_port, timeout=m.smtp_timeout) as smtp:
        if m.smtp_starttls:
            smtp.starttls()
        if m.smtp_user:
            smtp.login(m.smtp_user, m.smtp_password)
        smtp.send_message(msg)
