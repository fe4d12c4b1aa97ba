"""SMTP for real providers: STARTTLS or implicit TLS, certificates checked, login; against a real
aiosmtpd server with a certificate from a throwaway CA that the test makes."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from internal.config import Settings
from internal.services.mailer import MailRejected, send_mail
from tests.processes import free_port
from tests.support import Mailbox

USER, PASSWORD = "mailer", "correct horse battery staple"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


class TlsSmtpServer:
    """aiosmtpd that requires TLS (STARTTLS, or TLS from the first byte) and a login before mail."""

    def __init__(self, ca: trustme.CA, *, implicit: bool) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        tls = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticate,
            auth_required=True,
            # aiosmtpd only recognises STARTTLS as TLS; with implicit TLS every byte is encrypted anyway.
            auth_require_tls=not implicit,
            server_hostname="localhost",
            **tls,
        )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted_ca(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The system trust store plus the test CA, the way a deployment adds one: SSL_CERT_FILE."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


@pytest.fixture(params=["starttls", "ssl"])
def tls_server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[tuple[str, TlsSmtpServer]]:
    server = TlsSmtpServer(ca, implicit=request.param == "ssl")
    server.controller.start()
    yield request.param, server
    server.controller.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "noreply@example.com", "ada@example.com", "Hello"
    mail.set_content("over TLS")
    return mail


def provider_settings(settings: Settings, port: int, security: str, **overrides: Any) -> Settings:
    values = {"smtp_host": "localhost", "smtp_port": port, "smtp_tls": security}
    values |= {"smtp_user": USER, "smtp_password": PASSWORD} | overrides
    return settings.model_copy(update=values)


@pytest.mark.usefixtures("trusted_ca")
def test_mail_is_sent_over_tls_with_a_login(
    settings: Settings, tls_server: tuple[str, TlsSmtpServer]
) -> None:
    security, server = tls_server
    send_mail(provider_settings(settings, server.port, security), message())
    assert [m["Subject"] for m in server.mailbox.messages] == ["Hello"]


def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    settings: Settings, tls_server: tuple[str, TlsSmtpServer]
) -> None:
    security, server = tls_server
    with pytest.raises(ssl.SSLCertVerificationError):
        send_mail(provider_settings(settings, server.port, security), message())
    assert server.mailbox.messages == []


@pytest.mark.usefixtures("trusted_ca")
def test_a_wrong_password_is_a_permanent_failure(
    settings: Settings, tls_server: tuple[str, TlsSmtpServer]
) -> None:
    security, server = tls_server
    with pytest.raises(MailRejected):
        send_mail(provider_settings(settings, server.port, security, smtp_password="wrong"), message())
    assert server.mailbox.messages == []


@pytest.mark.usefixtures("trusted_ca")
def test_without_tls_a_server_that_requires_it_refuses_the_mail(settings: Settings, ca: trustme.CA) -> None:
    server = TlsSmtpServer(ca, implicit=False)
    server.controller.start()
    try:
        with pytest.raises(smtplib.SMTPException):
            send_mail(provider_settings(settings, server.port, "none"), message())
    finally:
        server.controller.stop()
    assert server.mailbox.messages == []


def test_tls_defaults_to_starttls_in_production_and_none_elsewhere(settings: Settings) -> None:
    assert settings.model_copy(update={"environment": "production"}).smtp_security == "starttls"
    assert settings.model_copy(update={"environment": "development"}).smtp_security == "none"
    assert settings.model_copy(update={"smtp_tls": "ssl"}).smtp_security == "ssl"
