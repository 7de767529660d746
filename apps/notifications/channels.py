"""Delivery channels behind one registry. A channel is a class with a `type` string; adding one
(an SMS gateway, say) is one new class decorated with @register, nothing else.

A channel sends ONE notice per `send` call, raising DeliveryError when the far end did not take
it, so that the caller records every notice's fate as it happens (see services.notices_deliver).
"""

import contextlib
import functools
import smtplib
import time
import uuid
from email.header import Header
from email.utils import formatdate, parseaddr

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address

from apps.core import outbound

from .messages import PersonalMessage

REGISTRY: dict[str, "Channel"] = {}


class DeliveryError(Exception):
    """The far end did not accept the notice. `permanent` failures are not retried;
    `connection` failures (the far end unreachable or gone) count towards giving up on a batch,
    where a refusal of one recipient does not."""

    def __init__(self, message, *, permanent=False, connection=False):
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection


class DeliveredUnconfirmed(Exception):
    """The request went out and no answer came back (a read timeout): it may have arrived, so
    it is recorded as sent and never posted again."""


def smtp_reply_error(code: int, reply, *, stage: str) -> DeliveryError:
    """RFC 5321 §4.2.1: 4yz is a transient negative reply (greylisting, rate limits, a full
    mailbox: try again later); 5yz is permanent. 421 means the server is closing the channel."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return DeliveryError(
        f"SMTP {code} at {stage}: {text}"[:500],
        permanent=500 <= code < 600,
        connection=code == 421,
    )


def _recipient_errors(refused: dict) -> dict[str, DeliveryError]:
    """sendmail()'s refusals {recipient: (code, reply)}: one outcome per recipient."""
    return {rcpt: smtp_reply_error(code, reply, stage="RCPT") for rcpt, (code, reply) in refused.items()}


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

    def pace(self):
        """Wait, if need be, before the next send (a relay's rate limit)."""

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
        # Never wait long on a server: every socket operation is bounded by send_timeout(),
        # and the relay's lease on a row in flight is tied to it (services.sending_lease).
        connection = get_connection(fail_silently=False, timeout=send_timeout())
        try:
            yield connection
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def pace(self):
        SMTP_RATE.wait()

    def send(self, notice, message, session):
        raw = None
        if isinstance(session, SMTPBackend):
            if session.connection is None:
                try:
                    session.open()
                except smtplib.SMTPResponseException as exc:  # e.g. 421 or 554 in the greeting
                    with contextlib.suppress(Exception):
                        session.close()
                    error = smtp_reply_error(exc.smtp_code, exc.smtp_error, stage="connect")
                    error.connection = True
                    raise error from exc
                except (OSError, smtplib.SMTPException) as exc:
                    raise DeliveryError(f"SMTP connection failed: {exc}", connection=True) from exc
            raw = self.compose(notice, message)
        try:
            if raw is not None:
                refused = session.connection.sendmail(_envelope_from(), [notice.user.email], raw)
            else:
                session.send_messages([self.email_message(notice, message, session)])
                refused = {}
        except smtplib.SMTPRecipientsRefused as exc:
            error = _recipient_errors(exc.recipients).get(notice.user.email) or DeliveryError(
                f"recipient refused: {exc.recipients}"
            )
            if error.connection:  # 421: smtplib has closed the socket; reopen next time
                with contextlib.suppress(Exception):
                    session.close()
            raise error from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            error = smtp_reply_error(exc.smtp_code, exc.smtp_error, stage="MAIL" if isinstance(
                exc, smtplib.SMTPSenderRefused) else "DATA")  # fmt: skip
            if error.connection:
                with contextlib.suppress(Exception):
                    session.close()
            raise error from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Connection lost or timed out mid-conversation: transient, on a new connection.
            with contextlib.suppress(Exception):
                session.close()
            raise DeliveryError(f"SMTP error: {exc!r}", connection=True) from exc
        if notice.user.email in refused:  # accepted for others, refused for this one
            raise _recipient_errors(refused)[notice.user.email]

    def headers(self, notice) -> dict:
        return {
            "Auto-Submitted": "auto-generated",
            "X-Crisiscomm-Notice": str(notice.pk),
            # Random, stored with the notice: unique across installations and database restores
            # (providers drop a Message-ID they have seen), the same for every re-send of it.
            "Message-ID": message_id(notice),
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


def message_id(notice) -> str:
    key = notice.message_key
    if key is None:  # a notice materialised before message keys existed
        key = uuid.uuid5(_installation_namespace(), f"{notice.pk}.{notice.event_id}")
    return f"<{key}@{_message_id_domain(settings.DEFAULT_FROM_EMAIL)}>"


@functools.lru_cache(maxsize=1)
def _installation_namespace() -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, settings.SECRET_KEY)


@functools.lru_cache(maxsize=16)
def _message_id_domain(from_address: str) -> str:
    domain = _bare_address(from_address).rpartition("@")[2]
    return domain if domain and domain.isascii() else "crisiscomm.invalid"


def send_timeout() -> float:
    """Seconds any one network operation of a send may take (SMTP and webhooks)."""
    return float(getattr(settings, "EMAIL_TIMEOUT", None) or getattr(settings, "CRISISCOMM_SEND_TIMEOUT", 20))


class RateLimit:
    """At most `CRISISCOMM_SMTP_RATE` messages a second to the relay, across every worker process
    (counted in the shared cache: Redis in production), so that a relay's limit is respected
    rather than tripped into 4xx replies. Time is cut in slots of 1/rate seconds holding one
    message each, so no second (sliding) sees more than the rate, bursts included. 0 or unset:
    no limit."""

    def __init__(self, setting: str):
        self.setting = setting

    def rate(self) -> float:
        return float(getattr(settings, self.setting, 0) or 0)

    def wait(self):
        rate = self.rate()
        if rate <= 0:
            return
        from django.core.cache import cache

        relay = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        slot = int(time.time() * rate)
        while True:
            key = f"crisiscomm:rate:{self.setting}:{relay}:{rate:g}:{slot}"
            if cache.add(key, 1, timeout=int(2 / rate) + 2):
                start = slot / rate
                now = time.time()
                if start > now:
                    time.sleep(start - now)
                return
            # Taken by another sender: the next slot that is not in the past.
            slot = max(slot + 1, int(time.time() * rate))


SMTP_RATE = RateLimit("CRISISCOMM_SMTP_RATE")


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
    """Team chats' incoming webhooks: Mattermost and Slack take {"text"}, Teams (Workflows) an
    Adaptive Card. Every post carries an `Idempotency-Key` (the notice's message key, the same
    on a re-send); a post that timed out waiting for the answer may have arrived, and since
    these endpoints do not honour the key it is never posted again (recorded as sent, with the
    doubt in `error`)."""

    type = "webhook"
    per_person = False
    reminders = False

    @contextlib.contextmanager
    def session(self):
        # outbound: each post re-checks the target and connects to the checked address; no
        # redirects, no proxy from the environment.
        with outbound.session(field="url") as http:
            yield http

    def payload(self, webhook, message: PersonalMessage) -> dict:
        if webhook.kind == "teams":
            return {
                "type": "message",
                "attachments": [
                    {
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "contentUrl": None,
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": [
                                {
                                    "type": "TextBlock",
                                    "text": message.subject,
                                    "weight": "Bolder",
                                    "size": "Medium",
                                    "color": "Attention",
                                    "wrap": True,
                                },
                                {"type": "TextBlock", "text": message.text, "wrap": True},
                            ],
                            "actions": [
                                {"type": "Action.OpenUrl", "title": message.link_label, "url": message.link}
                            ],
                        },
                    }
                ],
            }
        # Slack's mrkdwn bolds with single asterisks, Mattermost's Markdown with double ones.
        bold = "*" if webhook.kind == "slack" else "**"
        return {"text": f"{bold}{message.subject}{bold}\n\n{message.text}"}

    def send(self, notice, message, session):
        webhook = notice.webhook
        key = str(notice.message_key or message_id(notice).strip("<>").split("@")[0])
        timeout = send_timeout()
        try:
            response = session.post(
                webhook.url,
                json=self.payload(webhook, message),
                headers={"Idempotency-Key": key},
                timeout=(timeout, timeout),
                allow_redirects=False,
            )
        except outbound.OutboundRefused as exc:  # nothing was sent; the message says why
            raise DeliveryError(f"webhook refused: {exc.message}", permanent=not exc.retryable) from exc
        except requests.ConnectTimeout as exc:  # never connected: nothing was posted
            raise DeliveryError("webhook unreachable: ConnectTimeout", connection=True) from exc
        except requests.ReadTimeout as exc:
            raise DeliveredUnconfirmed(f"no answer within {timeout:g} s; not posted again") from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook unreachable: {exc.__class__.__name__}", connection=True) from exc
        if not 200 <= response.status_code < 300:
            # 429 and 5xx: try again later; any other answer will not change by itself.
            transient = response.status_code == 429 or response.status_code >= 500
            raise DeliveryError(f"webhook answered HTTP {response.status_code}", permanent=not transient)
