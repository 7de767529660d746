"""Delivery channels behind one registry. A channel is a class with a `type` string; adding one
(an SMS gateway, say) is one new class decorated with @register, nothing else.

A channel sends ONE notice per `send` call, raising DeliveryError when the far end did not take
it, so that the caller records every notice's fate as it happens (see services.notices_deliver).
"""

import contextlib
import smtplib

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

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
    """Django's mail backend (SMTP in production), HTML and plain text, one connection a batch."""

    type = "email"

    def accepts(self, user) -> bool:
        return bool(user.email)

    @contextlib.contextmanager
    def session(self):
        connection = get_connection(fail_silently=False)
        try:
            yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def send(self, notice, message, session):
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notice.user.email],
            connection=session,
            headers={
                "Auto-Submitted": "auto-generated",
                "X-Crisiscomm-Notice": str(notice.pk),
                "Message-ID": f"<notice-{notice.pk}.{notice.event_id}@crisiscomm>",
            },
        )
        mail.attach_alternative(message.html, "text/html")
        # Open once, then every send reuses the connection (send_messages closes only what it
        # opened itself). After an error the connection is dropped and reopened on the next send.
        if getattr(session, "connection", None) is None and hasattr(session, "open"):
            try:
                session.open()
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryError(f"SMTP connection failed: {exc}") from exc
        try:
            session.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except (OSError, smtplib.SMTPException) as exc:
            with contextlib.suppress(Exception):
                session.close()
            raise DeliveryError(f"SMTP error: {exc!r}") from exc


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
        return {"text": f"**{message.subject}**\n\n{message.text}"}

    def send(self, notice, message, session):
        webhook = notice.webhook
        try:
            response = session.post(webhook.url, json=self.payload(webhook, message), timeout=self.timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {exc.__class__.__name__}") from exc
        if not 200 <= response.status_code < 300:
            permanent = response.status_code in (400, 401, 403, 404, 410)
            raise DeliveryError(f"webhook answered HTTP {response.status_code}", permanent=permanent)
