"""Outgoing mail: SMTP when ``MOSAIC_SMTP_URL`` is set, else a file outbox in the instance folder.

The outbox is the embedded default so that a fresh install never needs a mail server and never
loses a message: each one is a ``.eml`` file a person can open. ``MOSAIC_SMTP_URL`` looks like
``smtp://user:password@host:587?starttls=1`` or ``smtps://user:password@host:465``.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from core.config import ConfigError, Settings


class MailError(Exception):
    """A message could not be built or delivered; the message says why."""


@dataclass
class Mail:
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    sender: str | None = None
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def build(self, default_sender: str) -> EmailMessage:
        """An ``EmailMessage``; header injection (CR/LF in a header) is refused."""
        if not self.to:
            raise MailError("a message needs at least one recipient")
        message = EmailMessage()
        try:
            message["From"] = self.sender or default_sender
            message["To"] = ", ".join(_checked_address(a) for a in self.to)
            message["Subject"] = self.subject
            if self.reply_to:
                message["Reply-To"] = _checked_address(self.reply_to)
            for name, value in self.headers.items():
                message[name] = value
        except ValueError as exc:
            raise MailError(f"invalid header: {exc}") from exc
        message["Message-ID"] = make_msgid(domain="mosaic.local")
        message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        message.set_content(self.text)
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        return message


def _checked_address(address: str) -> str:
    name, email = parseaddr(address)
    if "@" not in email or any(c in address for c in "\r\n"):
        raise MailError(f"not an e-mail address: {address!r}")
    return formataddr((name, email)) if name else email


class Mailer(Protocol):
    def send(self, mail: Mail) -> str:
        """Deliver ``mail``; return its Message-ID."""


class OutboxMailer:
    """Writes each message as an ``.eml`` file into ``<instance>/outbox``."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder, self.sender = folder, sender

    def send(self, mail: Mail) -> str:
        message = mail.build(self.sender)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(message))
        return str(message["Message-ID"])


class SmtpMailer:
    """Delivers over SMTP (plain, STARTTLS or implicit TLS), one connection per message."""

    def __init__(self, url: str, sender: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                f"MOSAIC_SMTP_URL must look like smtp://user:pw@host:port, got {url!r}"
            )
        self.host = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.sender, self.timeout = sender, timeout

    def send(self, mail: Mail) -> str:
        message = mail.build(self.sender)
        context = ssl.create_default_context()
        try:
            if self.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=context)
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP delivery to {self.host}:{self.port} failed: {exc}") from exc
        return str(message["Message-ID"])


def mailer_for(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_sender)
    return OutboxMailer(settings.instance_path / "outbox", settings.mail_sender)
