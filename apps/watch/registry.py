"""The registry of professional accounts: a DCO registers, changes and decides on accounts;
anyone proposes their own. Each change is one transaction with its audit entry."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from apps.audit.services import audit_record
from apps.core.errors import ConflictError, NotAllowedError, ServiceError
from apps.core.roles import DCO, has_role, require_role
from apps.core.updates import model_update

from .models import Registration, WatchedAccount, WatchKind, WatchNetwork
from .targets import mastodon_parts, outbound_refusal, shape_error

ACCOUNT_FIELDS = ("network", "kind", "url", "department", "active")
# Who manages the registry (registers, changes, decides, imports): the services check it, the
# pages and the API ask the *_actions functions below, which say the same.
MANAGERS = (DCO,)


def _signed_in(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def watch_page_actions(*, user) -> frozenset[str]:
    """What `user` may do on the watch's pages about no existing account: anyone signed in
    proposes their own accounts; a DCO registers and imports."""
    actions = set()
    if _signed_in(user):
        actions.add("watch.account_propose")
    if has_role(user, *MANAGERS):
        actions |= {"watch.account_create", "watch.import"}
    return frozenset(actions)


# What only a manager (the DCO) does to an existing account or sighting.
MANAGER_ACTIONS = frozenset(
    {"watch.account_update", "watch.account_accept", "watch.account_reject", "watch.sighting_review"}
)


def watch_role_actions(*, user) -> frozenset[str]:
    """Every watch action `user`'s roles may ever take, before any object is looked up: the API
    and the pages ask it first, so a caller without the role gets 403 whatever the id (never a
    404 that a missing object and a missing right would share)."""
    if has_role(user, *MANAGERS):
        return watch_page_actions(user=user) | MANAGER_ACTIONS
    return watch_page_actions(user=user)


def watched_account_allowed_actions(*, user, account: WatchedAccount) -> frozenset[str]:
    """What `user` may do to `account` now (the audit trail's verbs): a DCO changes any account
    and decides a proposed one. The services refuse the rest."""
    if not has_role(user, *MANAGERS):
        return frozenset()
    actions = {"watch.account_update"}
    if account.registration == Registration.PROPOSED:
        actions |= {"watch.account_accept", "watch.account_reject"}
    return frozenset(actions)


def clean_account_fields(*, network, kind, url, department="", check_target=True) -> dict:
    if kind not in WatchKind.values:
        raise ServiceError(
            _("The kind is one of: %(kinds)s.") % {"kinds": ", ".join(WatchKind.values)}, field="kind"
        )
    if network not in WatchNetwork.values:
        raise ServiceError(
            _("The network is one of: %(networks)s.") % {"networks": ", ".join(WatchNetwork.values)},
            field="network",
        )
    url = (url or "").strip()
    if not url:
        raise ServiceError(_("A URL is required."), field="url")
    if len(url) > 500:
        raise ServiceError(_("The URL is too long (500 characters at most)."), field="url")
    problem = shape_error(kind, url)
    if problem:
        raise ServiceError(problem, field="url")
    # Mastodon and feeds are read at their own address; a Bluesky profile through the AppView.
    if check_target and kind in (WatchKind.MASTODON, WatchKind.FEED):
        target = mastodon_parts(url)[0] if kind == WatchKind.MASTODON else url
        refusal = outbound_refusal(target)
        if refusal:
            raise ServiceError(refusal, field="url")
    department = (department or "").strip()
    if len(department) > 120:
        raise ServiceError(_("The department is too long (120 characters at most)."), field="department")
    return {"network": network, "kind": kind, "url": url, "department": department}


def _owner_users(owners) -> list:
    users = []
    for owner in owners or ():
        user = owner
        if not hasattr(owner, "pk"):
            user = get_user_model().objects.filter(pk=owner, is_active=True).first()
        if user is None or not user.is_active:
            raise ServiceError(_("Unknown or inactive owner: %(owner)s.") % {"owner": owner}, field="owners")
        users.append(user)
    return users


def _unique_url(url, *, exclude_pk=None):
    others = WatchedAccount.objects.filter(url__iexact=url)
    if exclude_pk:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise ConflictError(_("This account is already registered."), field="url", code="duplicate")


def account_details(*, account, owners=None, changed=None) -> dict:
    details = {"url": account.url, "kind": account.kind, "network": account.network}
    if owners is not None:
        details["owners"] = sorted(u.pk for u in owners)
    if changed is not None:
        details["changed"] = sorted(changed)
    return details


@transaction.atomic
def watched_account_create(
    *, actor, network, kind, url, owners=(), department="", active=True
) -> WatchedAccount:
    """A DCO registers an account: accepted at once."""
    require_role(actor, *MANAGERS)
    fields = clean_account_fields(network=network, kind=kind, url=url, department=department)
    owner_users = _owner_users(owners)
    _unique_url(fields["url"])
    account = WatchedAccount.objects.create(
        **fields, active=bool(active), registration=Registration.ACCEPTED, decided_by=actor
    )
    account.owners.set(owner_users)
    audit_record(
        actor=actor,
        action="watch.account_create",
        obj=account,
        details=account_details(account=account, owners=owner_users),
    )
    return account


@transaction.atomic
def watched_account_propose(*, actor, network, kind, url, department="") -> WatchedAccount:
    """A staff member proposes their own professional account; a DCO accepts it (the guide has
    the DCO validate professional accounts). The proposer is its owner."""
    if not _signed_in(actor):
        raise NotAllowedError(_("Sign in to propose an account."))
    fields = clean_account_fields(network=network, kind=kind, url=url, department=department)
    _unique_url(fields["url"])
    account = WatchedAccount.objects.create(
        **fields, active=True, registration=Registration.PROPOSED, proposed_by=actor
    )
    account.owners.set([actor])
    audit_record(
        actor=actor,
        action="watch.account_propose",
        obj=account,
        details=account_details(account=account, owners=[actor]),
    )
    return account


@transaction.atomic
def watched_account_decide(
    *, actor, account: WatchedAccount, accept: bool, comment: str = ""
) -> WatchedAccount:
    require_role(actor, *MANAGERS)
    account = WatchedAccount.objects.select_for_update().get(pk=account.pk)
    if account.registration != Registration.PROPOSED:
        raise ConflictError(_("This account is not awaiting a decision."), code="not_proposed")
    account.registration = Registration.ACCEPTED if accept else Registration.REJECTED
    account.decided_by = actor
    account.save(update_fields=["registration", "decided_by"])
    audit_record(
        actor=actor,
        action="watch.account_accept" if accept else "watch.account_reject",
        obj=account,
        details={**account_details(account=account), "comment": (comment or "")[:1000]},
    )
    return account


@transaction.atomic
def watched_account_update(*, actor, account: WatchedAccount, data: dict) -> WatchedAccount:
    """Change what `data` names: ACCOUNT_FIELDS and `owners` (another key is refused with a 400
    naming it, never dropped). A new URL or kind is another account: it is read afresh."""
    require_role(actor, *MANAGERS)
    account = WatchedAccount.objects.select_for_update().get(pk=account.pk)
    fields = {k: v for k, v in data.items() if k != "owners"}
    current = {k: getattr(account, k) for k in ACCOUNT_FIELDS}
    wanted = {**current, **{k: v for k, v in fields.items() if k in ACCOUNT_FIELDS}}
    cleaned = clean_account_fields(
        network=wanted["network"],
        kind=wanted["kind"],
        url=wanted["url"],
        department=wanted["department"],
        check_target=(wanted["url"], wanted["kind"]) != (current["url"], current["kind"]),
    )
    cleaned["active"] = bool(wanted["active"])
    if cleaned["url"] != current["url"]:
        _unique_url(cleaned["url"], exclude_pk=account.pk)
    # clean_account_fields is the watch's validation (shape per kind, outbound rules); the
    # model's own would refuse addresses an unwatchable account may have.
    account, changes = model_update(
        instance=account,
        fields=ACCOUNT_FIELDS,
        data={k: cleaned.get(k, v) for k, v in fields.items()},
        clean=False,
    )
    changed = list(changes)
    if {"url", "kind"} & set(changed):  # another account now: read it afresh
        account.remote_id = account.cursor = account.etag = account.last_modified = ""
        account.consecutive_errors = 0
        account.next_read_at = None
        account.save(
            update_fields=[
                "remote_id",
                "cursor",
                "etag",
                "last_modified",
                "consecutive_errors",
                "next_read_at",
            ]
        )
    owner_users = None
    if "owners" in data:
        owner_users = _owner_users(data["owners"])
        if {u.pk for u in owner_users} != set(account.owners.values_list("pk", flat=True)):
            account.owners.set(owner_users)
            changed.append("owners")
    if changed:
        audit_record(
            actor=actor,
            action="watch.account_update",
            obj=account,
            details=account_details(account=account, owners=owner_users, changed=changed),
        )
    return account
