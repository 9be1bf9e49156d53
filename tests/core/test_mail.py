"""Mail goes to a real SMTP server (aiosmtpd) or to the file outbox; bad input is refused."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from core.mail import Mail, MailError, OutboxMailer, SmtpMailer, mailer_for
from tests.conftest import make_settings


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_smtp_delivery_to_a_real_server(smtp_server):
    inbox, port = smtp_server
    mailer = SmtpMailer(f"smtp://127.0.0.1:{port}", "Mosaic <mosaic@example.com>")
    message_id = mailer.send(
        Mail(
            to=["Ann Lee <ann@example.com>"],
            subject="Grüße",
            text="plain body",
            html="<p>html body</p>",
        )
    )
    assert len(inbox.messages) == 1
    received = inbox.messages[0]
    assert received["Message-ID"] == message_id
    assert received["Subject"] == "Grüße"
    assert inbox.envelopes[0].rcpt_tos == ["ann@example.com"]
    assert received.get_body(("plain",)).get_content().strip() == "plain body"
    assert received.get_body(("html",)).get_content().strip() == "<p>html body</p>"


def test_unreachable_server_is_a_clear_error():
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}", "mosaic@example.com", timeout=2)
    with pytest.raises(MailError, match=r"SMTP delivery to 127\.0\.0\.1"):
        mailer.send(Mail(to=["a@example.com"], subject="x", text="y"))


def test_outbox_is_the_default(tmp_path):
    mailer = mailer_for(make_settings(tmp_path, "sqlite://"))
    assert isinstance(mailer, OutboxMailer)
    mailer.send(Mail(to=["a@example.com"], subject="Hello", text="body"))
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert (
        email.message_from_bytes(files[0].read_bytes(), policy=policy.default)["Subject"] == "Hello"
    )


@pytest.mark.parametrize(
    "mail",
    [
        Mail(to=[], subject="x", text="y"),
        Mail(to=["not-an-address"], subject="x", text="y"),
        Mail(to=["a@example.com\r\nBcc: victim@example.com"], subject="x", text="y"),
        Mail(to=["a@example.com"], subject="hi\r\nBcc: victim@example.com", text="y"),
    ],
)
def test_bad_messages_are_refused(tmp_path, mail):
    with pytest.raises(MailError):
        OutboxMailer(tmp_path, "mosaic@example.com").send(mail)
    assert not list(tmp_path.glob("*.eml"))


def test_bad_smtp_url_is_a_config_error():
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="MOSAIC_SMTP_URL"):
        SmtpMailer("http://example.com", "x@example.com")
