"""Delivery channels behind one registry. A channel is a class with a `type` string; adding one
(an SMS gateway, say) is one new class decorated with @register, nothing else.

A channel sends ONE notice per `send` call, raising DeliveryError when the far end did not take
it, so that the caller records every notice's fate as it happens (see services.notices_deliver).
"""

import contextlib
import functools
import smtplib
import uuid
from email.header import Header
from email.utils import formatdate, parseaddr

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address

from .messages import PersonalMessage

REGISTRY: dict[str, "Channel"] = {}


class DeliveryError(Exception):
    """The far end did not accept the notice. `permanent` failures are not retried."""

    def __init__(self, message, *, permanent=False):
        super().__init__(message)
        self.permanent = permanent


def register(cls):
    REGISTRY[cls.type] = cls()
    return cls


def get_channel(channel_type: str) -> "Channel":
    return REGISTRY[channel_type]


def person_channels() -> list["Channel"]:
    return [c for c in REGISTRY.values() if c.per_person]


class Channel:
    type = ""
    # One notice per person (email, in-app, SMS) or per configured team endpoint (webhooks).
    per_person = True
    # Delivered by being stored (the in-app inbox): created as sent, nothing to hand over.
    instant = False
    # Takes part in acknowledgement reminders.
    reminders = True
    # `accepts` as an SQL condition on the user table aliased `u` (rows are then created in one
    # INSERT … SELECT); None makes the fan-out call `accepts` person by person.
    sql_condition: str | None = "1 = 1"

    def accepts(self, user) -> bool:
        """Whether this person can be reached on this channel (e.g. has an email address)."""
        return True

    @contextlib.contextmanager
    def session(self):
        """A connection reused for a whole batch."""
        yield None

    def send(self, notice, message: PersonalMessage, session) -> None:
        raise NotImplementedError


@register
class InAppChannel(Channel):
    type = "inapp"
    instant = True

    def send(self, notice, message, session):  # pragma: no cover - instant channels never send
        return None


@register
class EmailChannel(Channel):
    """Django's mail backend (SMTP in production), HTML and plain text, one connection a batch.

    With the SMTP backend the MIME text is laid out here, straight as bytes (the same 8bit
    multipart/alternative Django writes): building 35,000 messages through the email package
    costs more than sending them. Any other backend (locmem in tests, console) and any message
    this fast path cannot carry as is go through EmailMultiAlternatives."""

    type = "email"
    max_line = 990  # RFC 5322 allows 998 octets a line; longer lines need quoted-printable

    sql_condition = "u.email <> ''"

    def accepts(self, user) -> bool:
        return bool(user.email)

    @contextlib.contextmanager
    def session(self):
        # Never wait forever on a server: a send outliving the claim lease could be handed out
        # again by the relay.
        connection = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT or 60)
        try:
            yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def send(self, notice, message, session):
        raw = None
        if isinstance(session, SMTPBackend):
            if session.connection is None:
                try:
                    session.open()
                except (OSError, smtplib.SMTPException) as exc:
                    raise DeliveryError(f"SMTP connection failed: {exc}") from exc
            raw = self.compose(notice, message)
        try:
            if raw is not None:
                session.connection.sendmail(_envelope_from(), [notice.user.email], raw)
            else:
                session.send_messages([self.email_message(notice, message, session)])
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            with contextlib.suppress(Exception):
                session.close()
            raise DeliveryError(f"SMTP error: {exc!r}") from exc

    def headers(self, notice) -> dict:
        return {
            "Auto-Submitted": "auto-generated",
            "X-Crisiscomm-Notice": str(notice.pk),
            # Stable per notice: a copy re-sent after a crash is recognisably the same message.
            "Message-ID": f"<notice-{notice.pk}.{notice.event_id}@crisiscomm>",
        }

    def email_message(self, notice, message, connection=None):
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notice.user.email],
            connection=connection,
            headers=self.headers(notice),
        )
        mail.attach_alternative(message.html, "text/html")
        return mail

    def compose(self, notice, message) -> bytes | None:
        """The message as SMTP DATA bytes, or None when it needs the email package's encoders
        (a non-ASCII address, an over-long line)."""
        to = notice.user.email
        if not to.isascii():
            return None
        text = message.text.replace("\r\n", "\n").replace("\n", "\r\n")
        html = message.html.replace("\r\n", "\n").replace("\n", "\r\n")
        body = (text + "\r\n" + html).encode()
        if any(len(line) > self.max_line for line in body.split(b"\r\n")):
            return None
        boundary = f"=_crisiscomm_{uuid.uuid4().hex}"
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers(notice).items())
        return b"".join(
            [
                (
                    f"From: {_from_address()}\r\n"
                    f"To: {to}\r\n"
                    f"Subject: {_encoded_subject(message.subject)}\r\n"
                    f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}\r\n"
                    f"{head}"
                    "MIME-Version: 1.0\r\n"
                    f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
                    f"--{boundary}\r\n"
                    'Content-Type: text/plain; charset="utf-8"\r\n'
                    "Content-Transfer-Encoding: 8bit\r\n\r\n"
                ).encode(),
                text.encode(),
                (
                    f"\r\n--{boundary}\r\n"
                    'Content-Type: text/html; charset="utf-8"\r\n'
                    "Content-Transfer-Encoding: 8bit\r\n\r\n"
                ).encode(),
                html.encode(),
                f"\r\n--{boundary}--\r\n".encode(),
            ]
        )


@functools.lru_cache(maxsize=256)
def _encoded_subject(subject: str) -> str:
    # RFC 2047 encoded words, folded with CRLF: what Django's message() writes for it too.
    return subject if subject.isascii() else Header(subject, "utf-8").encode(linesep="\r\n")


def _from_address() -> str:
    return _sanitized(settings.DEFAULT_FROM_EMAIL)


def _envelope_from() -> str:
    return _bare_address(settings.DEFAULT_FROM_EMAIL)


@functools.lru_cache(maxsize=16)
def _bare_address(address: str) -> str:
    return parseaddr(address)[1] or address


@functools.lru_cache(maxsize=16)
def _sanitized(address: str) -> str:
    return sanitize_address(address, "utf-8")


@register
class WebhookChannel(Channel):
    """Team chats' incoming webhooks: Mattermost and Slack take {"text"}, Teams a MessageCard."""

    type = "webhook"
    per_person = False
    reminders = False
    timeout = 10

    @contextlib.contextmanager
    def session(self):
        with requests.Session() as http:
            yield http

    def payload(self, webhook, message: PersonalMessage) -> dict:
        if webhook.kind == "teams":
            return {
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": message.subject,
                "themeColor": "B00020",
                "title": message.subject,
                "text": message.text.replace("\n", "\n\n"),
                "potentialAction": [
                    {
                        "@type": "OpenUri",
                        "name": message.link_label,
                        "targets": [{"os": "default", "uri": message.link}],
                    }
                ],
            }
        # Slack's mrkdwn bolds with single asterisks, Mattermost's Markdown with double ones.
        bold = "*" if webhook.kind == "slack" else "**"
        return {"text": f"{bold}{message.subject}{bold}\n\n{message.text}"}

    def send(self, notice, message, session):
        webhook = notice.webhook
        try:
            response = session.post(webhook.url, json=self.payload(webhook, message), timeout=self.timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {exc.__class__.__name__}") from exc
        if not 200 <= response.status_code < 300:
            permanent = response.status_code in (400, 401, 403, 404, 410)
            raise DeliveryError(f"webhook answered HTTP {response.status_code}", permanent=permanent)
