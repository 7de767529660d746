"""Sightings: a post seen on a watched account during a crisis, judged by the pre-publication
check (an official boost is allowed), recorded once with its audit entry and its notices (the
owners', the DCOs'); and the DCO's review of one."""

import contextlib
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.audit.services import audit_record, audit_record_many
from apps.core.errors import ServiceError
from apps.core.outbound import safe_http_url
from apps.core.roles import DCO, has_role, require_role
from apps.crises.models import Crisis
from apps.notifications.services import notify_users
from apps.policy.selectors import precheck
from apps.posts.models import Network, Post, SocialAccount

from .models import Sighting, SightingKind, SightingStatus, WatchedAccount
from .owners import render_both
from .readers import ReadResult

# Who reviews a sighting: the service checks it, sighting_allowed_actions says the same.
REVIEWERS = (DCO,)


def _norm_author(value: str) -> str:
    return (value or "").strip().lstrip("@").lower()


def official_refs() -> tuple[set[str], set[str]]:
    """(authors, post URLs) that make a boost official: the official accounts' handles (as
    user@instance for Mastodon) and the URLs of posts they published (approved statements too)."""
    authors = set()
    for handle, network, config in SocialAccount.objects.values_list("handle", "network", "config"):
        handle = _norm_author(handle)
        if network == Network.MASTODON and "@" not in handle and (config or {}).get("base_url"):
            with contextlib.suppress(TypeError, ValueError):
                handle = f"{handle}@{urlsplit(config['base_url']).hostname}"
        authors.add(handle)
    urls = set(Post.objects.exclude(external_url="").values_list("external_url", flat=True))
    return authors, urls


def _verdict(account: WatchedAccount, text: str, published_at) -> tuple[str, list]:
    """The pre-publication check, crisis rules applying, as of the post's time; reasons in both
    languages so that either reader sees them in theirs."""
    reasons: dict[str, dict] = {}
    verdict = "allowed"
    for language in ("en", "fr"):
        with translation.override(language):
            result = precheck(network=account.network, text=text, account_kind="personal", now=published_at)
        verdict = result.verdict
        for reason in result.reasons:
            entry = reasons.setdefault(reason.code, {"code": reason.code, "severity": reason.severity})
            entry[f"message_{language}"] = reason.message
    return verdict, list(reasons.values())


def record_sightings(*, account, result: ReadResult, crisis, official, now) -> int:
    if not result.posts:
        return 0
    known = set(
        Sighting.objects.filter(account=account, post_id__in=[p.post_id for p in result.posts]).values_list(
            "post_id", flat=True
        )
    )
    authors, urls = official
    new = []
    for post in result.posts:
        # Never a post from before the declaration, whatever a reader returned.
        if post.post_id in known or post.published_at < crisis.declared_at:
            continue
        known.add(post.post_id)
        official_boost = post.kind == SightingKind.BOOST and (
            _norm_author(post.boosted_author) in authors or (post.boosted_url and post.boosted_url in urls)
        )
        verdict, reasons = (
            ("allowed", []) if official_boost else _verdict(account, post.text, post.published_at)
        )
        new.append(
            Sighting(
                account=account,
                crisis=crisis,
                post_id=post.post_id[:300],
                # What a remote server says is shown as a link: http(s) only, never javascript:.
                url=safe_http_url(post.url)[:1000],
                text=post.text,
                published_at=post.published_at,
                published_estimated=post.published_estimated,
                seen_at=now,
                kind=post.kind,
                boost_of_official=official_boost,
                verdict=verdict,
                reasons=reasons,
            )
        )
    if not new:
        return 0
    Sighting.objects.bulk_create(new)
    # Everything slow (queries, rendering) before the first audit write: from that write to the
    # commit this transaction holds the audit chain's head, which every recorder needs.
    notices = _notices_about(account, crisis, [s for s in new if not s.boost_of_official])
    audit_record_many(
        actor=None,
        entries=[
            {
                "action": "watch.sighting",
                "obj": s,
                "details": {"account": account.url, "post": s.post_id, "kind": s.kind, "verdict": s.verdict},
            }
            for s in new
        ],
    )
    for notice in notices:
        notify_users(crisis_id=crisis.pk, **notice)
    return len(new)


def _notices_about(account: WatchedAccount, crisis: Crisis, sightings: list[Sighting]) -> list[dict]:
    """The owners' notice (event watch.sighting: the post quoted, the rule restated, the DCO
    contact) and the DCOs' (in-app and e-mail: the post, its link and its owners), as keyword
    arguments of notify_users. One of each per account and sweep, whatever the number of posts."""
    if not sightings:
        return []
    owners = list(account.owners.filter(is_active=True))
    posts = [
        {
            "url": s.url,
            "text": s.text[:1000],
            "kind": s.kind,
            "verdict": s.verdict,
            "published_at": timezone.localtime(s.published_at),
        }
        for s in sorted(sightings, key=lambda s: s.published_at)
    ]
    render_ctx = {
        "title": crisis.title,
        "account": account.url,
        "owners": ", ".join(o.get_full_name() or o.get_username() for o in owners),
        "posts": posts,
        "freeze_until": timezone.localtime(crisis.freeze_until),
        "dco_contact": settings.CRISISCOMM_DCO_CONTACT,
    }
    base = {
        "title": crisis.title,
        "account": account.url,
        "sightings": [s.pk for s in sightings],
        "freeze_until": crisis.freeze_until.isoformat(),
    }
    notices = []
    if owners:
        notices.append(
            {
                "event": "watch.sighting",
                "user_ids": [o.pk for o in owners],
                "context": {**base, "localized": render_both(template="sighting_owner", context=render_ctx)},
            }
        )
    dcos = list(
        get_user_model().objects.filter(is_active=True, groups__name=DCO).values_list("pk", flat=True)
    )
    if dcos:
        notices.append(
            {
                "event": "watch.sighting_dco",
                "user_ids": dcos,
                "context": {**base, "localized": render_both(template="sighting_dco", context=render_ctx)},
            }
        )
    return notices


# --- the DCO's review of a sighting ---------------------------------------------------------------


def sighting_allowed_actions(*, user, sighting: Sighting) -> frozenset[str]:
    """What `user` may do to `sighting` (the audit trail's verbs): a DCO reviews it, whatever its
    status (a review can be changed). The service refuses the rest."""
    return frozenset({"watch.sighting_review"}) if has_role(user, *REVIEWERS) else frozenset()


@transaction.atomic
def sighting_review(*, actor, sighting: Sighting, status: str, comment: str) -> Sighting:
    """A DCO marks a sighting acceptable or followed up, with a comment (audited)."""
    require_role(actor, *REVIEWERS)
    if status not in (SightingStatus.ACCEPTABLE, SightingStatus.FOLLOWED_UP):
        raise ServiceError(_("The status is acceptable or followed_up."), field="status")
    comment = (comment or "").strip()
    if not comment:
        raise ServiceError(_("A comment is required."), field="comment")
    if len(comment) > 4000:
        raise ServiceError(_("The comment is too long (4,000 characters at most)."), field="comment")
    sighting = Sighting.objects.select_for_update().get(pk=sighting.pk)
    previous = sighting.status
    sighting.status, sighting.comment = status, comment
    sighting.reviewed_by, sighting.reviewed_at = actor, timezone.now()
    sighting.save(update_fields=["status", "comment", "reviewed_by", "reviewed_at"])
    audit_record(
        actor=actor,
        action="watch.sighting_review",
        obj=sighting,
        details={"from": previous, "to": status, "comment": comment},
    )
    return sighting
