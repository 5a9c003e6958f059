"""Outgoing mail: SMTP when `SMTP_URL` is set, otherwise (embedded mode) the log.

`smtp://user:pass@host:587` uses STARTTLS when the server offers it, `smtps://host:465` TLS
from the first byte; user and password are percent-decoded. Credentials never reach a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from momento import logs

log = logs.get("momento.mail")


class Mailer(Protocol):
    async def send(self, to: str, subject: str, text: str) -> None: ...


@dataclass
class LogMailer:
    """Embedded mode with no SMTP server: the mail, links included, goes to the log."""

    sender: str

    async def send(self, to: str, subject: str, text: str) -> None:
        log.warning(
            "mail not sent (no SMTP_URL); contents follow", to=to, subject=subject, body=text
        )


@dataclass
class SmtpMailer:
    url: str
    sender: str
    timeout: float = 10.0

    async def send(self, to: str, subject: str, text: str) -> None:
        parts = urlsplit(self.url)
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(text)
        tls = parts.scheme == "smtps"
        await aiosmtplib.send(
            msg,
            hostname=parts.hostname or "localhost",
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
            start_tls=None if not tls else False,
            timeout=self.timeout,
        )
        log.info("mail sent", to=to, subject=subject)


def from_settings(smtp_url: str | None, sender: str, timeout: float) -> Mailer:
    if smtp_url:
        return SmtpMailer(smtp_url, sender, timeout)
    return LogMailer(sender)
