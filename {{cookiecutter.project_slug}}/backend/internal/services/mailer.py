"""Sending email over SMTP.

Blocking on purpose: it runs inside job code (worker processes and threads), never on the event
loop. Errors are split the way a retry policy needs them: a 5xx reply is permanent (`MailRejected`),
anything else (connection refused, timeout, 4xx) is worth retrying.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from internal.config import Settings
from internal.jobs.contract import PermanentJobError

SMTP_TIMEOUT_SECONDS = 20.0


class MailRejected(PermanentJobError):
    """The SMTP server refused the message for good (5xx)."""


def message_id(settings: Settings, key: str) -> str:
    """A Message-ID derived from a business key, e.g. ``<welcome-42@example.com>``."""
    return f"<{key}@{settings.mail_from.rpartition('@')[2] or 'localhost'}>"


def build_message(settings: Settings, *, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    # Deterministic, so a receiver can deduplicate if a send is ever repeated.
    message["Message-ID"] = message_id
    message.set_content(body)
    return message


def connect(settings: Settings) -> smtplib.SMTP:
    """An SMTP session as SMTP_TLS and SMTP_USER ask: implicit TLS or STARTTLS, then a login.

    Certificates are verified against the system's trust store (`SSL_CERT_FILE` adds a CA); a
    server that cannot prove its name fails the try instead of receiving the message in clear.
    """
    security = settings.smtp_security
    context = ssl.create_default_context() if security != "none" else None
    smtp: smtplib.SMTP
    if security == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_mail(settings: Settings, message: EmailMessage) -> None:
    try:
        with connect(settings) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if all(500 <= code < 600 for code in codes):
            raise MailRejected(f"recipients refused: {exc.recipients}") from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise MailRejected(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        raise
