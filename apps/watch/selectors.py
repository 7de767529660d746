"""Reads of the watch: the registry as each person may see it, sightings, the report section."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q, QuerySet

from apps.accounts.roles import AUDITOR, DCO, has_role

from .models import Registration, Sighting, WatchedAccount


def _owners_prefetch():
    return Prefetch("owners", queryset=get_user_model().objects.order_by("pk"))


def sees_everything(*, user) -> bool:
    return has_role(user, DCO, AUDITOR)


def watched_accounts_for(*, user) -> QuerySet[WatchedAccount]:
    """The DCO and auditors see the whole registry; anyone else the accounts they own or proposed."""
    accounts = WatchedAccount.objects.prefetch_related(_owners_prefetch()).order_by("network", "url")
    if sees_everything(user=user):
        return accounts
    return accounts.filter(Q(owners=user) | Q(proposed_by=user)).distinct()


def watched_accounts_proposed() -> QuerySet[WatchedAccount]:
    return WatchedAccount.objects.filter(registration=Registration.PROPOSED).prefetch_related(
        _owners_prefetch()
    )


def sightings_for(*, user) -> QuerySet[Sighting]:
    """Newest first. The DCO and auditors see every sighting; an owner those of their accounts."""
    sightings = Sighting.objects.select_related("account", "reviewed_by").prefetch_related(
        Prefetch("account__owners", queryset=get_user_model().objects.order_by("pk"))
    )
    if not sees_everything(user=user):
        sightings = sightings.filter(account__owners=user).distinct()
    return sightings.order_by("-published_at", "-pk")


def sightings_of_crisis(*, crisis, limit: int | None = None) -> list[Sighting]:
    qs = (
        Sighting.objects.filter(crisis=crisis)
        .select_related("account", "reviewed_by")
        .prefetch_related(Prefetch("account__owners", queryset=get_user_model().objects.order_by("pk")))
        .order_by("-published_at", "-pk")
    )
    return list(qs[:limit] if limit else qs)


def watch_health() -> dict:
    """How many accounts are watched, which are failing, and how many only their owners cover."""
    accepted = WatchedAccount.objects.filter(registration=Registration.ACCEPTED, active=True)
    return accepted.aggregate(
        total=Count("pk"),
        unwatchable=Count("pk", filter=Q(kind="unwatchable")),
        failing=Count("pk", filter=Q(consecutive_errors__gt=0)),
    )


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def sightings_for_report(*, crisis) -> dict:
    """The crisis report's section: every sighting and its outcome (called as fn(crisis=crisis)
    by apps.crises.report)."""
    sightings = sightings_of_crisis(crisis=crisis)
    by_status: dict[str, int] = {}
    for s in sightings:
        by_status[s.status] = by_status.get(s.status, 0) + 1
    return {
        "total": len(sightings),
        "by_status": by_status,
        "items": [
            {
                "id": s.pk,
                "account": s.account.url,
                "owners": [_person(o) for o in s.account.owners.all()],
                "url": s.url,
                "text": s.text,
                "published_at": s.published_at.isoformat(),
                "seen_at": s.seen_at.isoformat(),
                "kind": s.kind,
                "verdict": s.verdict,
                "status": s.status,
                "comment": s.comment,
                "reviewed_by": _person(s.reviewed_by),
                "reviewed_at": s.reviewed_at.isoformat() if s.reviewed_at else None,
            }
            for s in sorted(sightings, key=lambda s: (s.published_at, s.pk))
        ],
    }
