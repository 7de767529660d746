"""Messages built from per-language templates (templates/notifications/<lang>/…).

A message is rendered once per (event, language) with placeholders for the two personal parts
(the name and the signed acknowledgement link), then filled in per person: rendering 35,000
Django templates would cost more than sending the mails.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.html import escape

SUPPORTED_LANGUAGES = ("fr", "en")
ACK_SALT = "crisiscomm.notifications.ack"
_NAME = "\x00NAME\x00"
_LINK = "\x00LINK\x00"

# Events whose templates exist; anything else uses the generic one with context["message"].
KNOWN_EVENTS = {
    "crisis.declared",
    "crisis.extended",
    "crisis.lifted",
    "crisis.stood_down",
    "crisis.lift_requested",
    "crisis.stand_down_requested",
    "statement.submitted",
    "statement.decided",
    "post.approval_requested",
}
# A freeze is in force after these: the message lists what is now forbidden.
FREEZE_EVENTS = {"crisis.declared", "crisis.extended"}


@dataclass(frozen=True)
class Template:
    subject: str
    text: str
    html: str
    link_label: str


@dataclass(frozen=True)
class PersonalMessage:
    subject: str
    text: str
    html: str
    link: str
    link_label: str


def language_of(code: str | None) -> str:
    code = (code or "").split("-")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else settings.LANGUAGE_CODE


def _when(value):
    """ISO strings of the context → aware datetimes in the site's time zone (None if absent)."""
    if not value:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return timezone.localtime(parsed)


def ack_token(*, event_id: int, user_id: int) -> str:
    return signing.dumps({"e": event_id, "u": user_id}, salt=ACK_SALT, compress=False)


def read_ack_token(token: str) -> tuple[int, int]:
    """(event_id, user_id); raises signing.SignatureExpired / signing.BadSignature."""
    max_age = settings.CRISISCOMM_ACK_LINK_MAX_AGE
    data = signing.loads(token, salt=ACK_SALT, max_age=max_age)
    return int(data["e"]), int(data["u"])


def base_url() -> str:
    return settings.CRISISCOMM_BASE_URL.rstrip("/")


def ack_url(*, event_id: int, user_id: int) -> str:
    path = reverse("notices:ack", kwargs={"token": ack_token(event_id=event_id, user_id=user_id)})
    return base_url() + path


def inbox_url() -> str:
    try:
        return base_url() + reverse("web:inbox")
    except NoReverseMatch:
        return base_url() + "/"


def template_context(event, language: str) -> dict:
    root = event.root
    ctx = dict(root.context or {})
    # Events whose text the recording app composes (watch.*): {language: {subject, message}}.
    ctx.update((ctx.pop("localized", None) or {}).get(language) or {})
    spokespersons = ctx.get("spokespersons") or []
    if isinstance(spokespersons, str):
        spokespersons = [spokespersons]
    ctx.update(
        event=root.event,
        event_known=root.event in KNOWN_EVENTS,
        freeze=root.event in FREEZE_EVENTS,
        reminder=bool(event.parent_id),
        reminder_round=event.reminder_round if event.parent_id else 0,
        declared_at=_when(ctx.get("declared_at")),
        freeze_until=_when(ctx.get("freeze_until")),
        spokespersons=[str(s) for s in spokespersons],
        topics=ctx.get("topics") or [],
        dco_contact=settings.CRISISCOMM_DCO_CONTACT,
        name=_NAME,
        link=_LINK,
        language=language,
    )
    return ctx


def render_template(event, language: str) -> Template:
    language = language_of(language)
    ctx = template_context(event, language)
    with translation.override(language):
        subject = render_to_string(f"notifications/{language}/subject.txt", ctx)
        text = render_to_string(f"notifications/{language}/message.txt", ctx)
        html = render_to_string(f"notifications/{language}/message.html", ctx)
        link_label = render_to_string(f"notifications/{language}/link_label.txt", ctx)
    return Template(
        subject=" ".join(subject.split()),
        text=text.strip() + "\n",
        html=html,
        link_label=link_label.strip(),
    )


def page_message(event, *, user, language: str) -> tuple[str, str]:
    """(subject, text) of the notice for the acknowledgement page: the same words as the mail,
    without the link (the page's button acknowledges)."""
    language = language_of(language)
    ctx = template_context(event, language)
    ctx["page"] = True
    name = user.get_full_name() or user.get_username()
    with translation.override(language):
        subject = render_to_string(f"notifications/{language}/subject.txt", ctx)
        text = render_to_string(f"notifications/{language}/message.txt", ctx)
    return " ".join(subject.split()).replace(_NAME, name), text.strip().replace(_NAME, name)


class MessageBook:
    """Renders each (event, language) once per batch and personalises it."""

    def __init__(self):
        self._cache: dict[tuple[int, str], Template] = {}
        # One signer for the whole run: signing.dumps() builds one (and derives its key) per
        # call. Same tokens as ack_token().
        self._signer = signing.TimestampSigner(salt=ACK_SALT)
        marker = "__token__"
        path = reverse("notices:ack", kwargs={"token": marker})
        self._ack_prefix, self._ack_suffix = (base_url() + path).split(marker)

    def template(self, event, language: str) -> Template:
        key = (event.pk, language_of(language))
        if key not in self._cache:
            self._cache[key] = render_template(event, key[1])
        return self._cache[key]

    def for_person(self, event, *, user, language: str) -> PersonalMessage:
        tpl = self.template(event, language)
        name = user.get_full_name() or user.get_username()
        token = self._signer.sign_object({"e": event.root.pk, "u": user.pk}, compress=False)
        link = f"{self._ack_prefix}{token}{self._ack_suffix}"
        return PersonalMessage(
            subject=tpl.subject.replace(_NAME, name),
            text=tpl.text.replace(_NAME, name).replace(_LINK, link),
            html=tpl.html.replace(_NAME, escape(name)).replace(_LINK, escape(link)),
            link=link,
            link_label=tpl.link_label,
        )

    def for_team(self, event, *, webhook) -> PersonalMessage:
        tpl = self.template(event, webhook.language)
        link = inbox_url()
        team = webhook.department or webhook.name
        return PersonalMessage(
            subject=tpl.subject.replace(_NAME, team),
            text=tpl.text.replace(_NAME, team).replace(_LINK, link),
            html=tpl.html.replace(_NAME, escape(team)).replace(_LINK, escape(link)),
            link=link,
            link_label=tpl.link_label,
        )
