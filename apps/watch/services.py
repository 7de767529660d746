"""Every change to the watch: the registry (DCO; owners propose their own accounts), the CSV
import, the owners' notice at a declaration, the sweep that records sightings, and the DCO's
review of a sighting. Each change is one transaction with its audit entry."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts.roles import DCO, has_role
from apps.audit.services import audit_record, audit_record_many
from apps.core.outbound import safe_http_url
from apps.crises.models import Crisis
from apps.crises.selectors import crisis_open
from apps.notifications.services import notify_users
from apps.policy.selectors import precheck
from apps.posts.models import Network, Post, SocialAccount
from crisiscomm.api import ConflictError, NotAllowedError, ServiceError

from .models import (
    CrisisWatch,
    Registration,
    Sighting,
    SightingKind,
    SightingStatus,
    WatchedAccount,
    WatchKind,
    WatchNetwork,
)
from .readers import AccountState, Fetcher, HostLimiter, ReadResult, read_account
from .targets import mastodon_parts, outbound_refusal, shape_error

log = logging.getLogger(__name__)

ACCOUNT_FIELDS = ("network", "kind", "url", "department", "active")
# A pg advisory lock key: one sweep at a time across workers.
SWEEP_LOCK_KEY = 0x7761746368  # "watch"


def _setting(name, default):
    return getattr(settings, name, default)


def _require_dco(actor):
    if not has_role(actor, DCO):
        raise NotAllowedError(_("Only a communication directorate officer (dco) may do this."))


# --- the registry ------------------------------------------------------------------------------


def _clean_account_fields(*, network, kind, url, department="", check_target=True) -> dict:
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


def _account_details(account, owners=None, changed=None) -> dict:
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
    _require_dco(actor)
    fields = _clean_account_fields(network=network, kind=kind, url=url, department=department)
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
        details=_account_details(account, owner_users),
    )
    return account


@transaction.atomic
def watched_account_propose(*, actor, network, kind, url, department="") -> WatchedAccount:
    """A staff member proposes their own professional account; a DCO accepts it (the guide has
    the DCO validate professional accounts). The proposer is its owner."""
    if not (actor and actor.is_authenticated and actor.is_active):
        raise NotAllowedError(_("Sign in to propose an account."))
    fields = _clean_account_fields(network=network, kind=kind, url=url, department=department)
    _unique_url(fields["url"])
    account = WatchedAccount.objects.create(
        **fields, active=True, registration=Registration.PROPOSED, proposed_by=actor
    )
    account.owners.set([actor])
    audit_record(
        actor=actor, action="watch.account_propose", obj=account, details=_account_details(account, [actor])
    )
    return account


@transaction.atomic
def watched_account_decide(
    *, actor, account: WatchedAccount, accept: bool, comment: str = ""
) -> WatchedAccount:
    _require_dco(actor)
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
        details={**_account_details(account), "comment": (comment or "")[:1000]},
    )
    return account


@transaction.atomic
def watched_account_update(*, actor, account: WatchedAccount, changes: Mapping) -> WatchedAccount:
    _require_dco(actor)
    account = WatchedAccount.objects.select_for_update().get(pk=account.pk)
    current = {k: getattr(account, k) for k in ACCOUNT_FIELDS}
    wanted = {**current, **{k: v for k, v in changes.items() if k in ACCOUNT_FIELDS}}
    cleaned = _clean_account_fields(
        network=wanted["network"],
        kind=wanted["kind"],
        url=wanted["url"],
        department=wanted["department"],
        check_target=(wanted["url"], wanted["kind"]) != (current["url"], current["kind"]),
    )
    cleaned["active"] = bool(wanted["active"])
    changed = [k for k in ACCOUNT_FIELDS if cleaned[k] != current[k]]
    owner_users = None
    if "owners" in changes:
        owner_users = _owner_users(changes["owners"])
        if {u.pk for u in owner_users} != set(account.owners.values_list("pk", flat=True)):
            account.owners.set(owner_users)
            changed.append("owners")
    if "url" in changed:
        _unique_url(cleaned["url"], exclude_pk=account.pk)
    fields = [k for k in changed if k != "owners"]
    for key in fields:
        setattr(account, key, cleaned[key])
    if {"url", "kind"} & set(fields):  # another account now: read it afresh
        account.remote_id = account.cursor = account.etag = account.last_modified = ""
        account.consecutive_errors = 0
        account.next_read_at = None
        fields += ["remote_id", "cursor", "etag", "last_modified", "consecutive_errors", "next_read_at"]
    if fields:
        account.save(update_fields=fields)
    if changed:
        audit_record(
            actor=actor,
            action="watch.account_update",
            obj=account,
            details=_account_details(account, owner_users, changed),
        )
    return account


# --- CSV import --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    line: int
    values: Mapping[str, str | None]


class WatchImportError(ServiceError):
    """Bad rows; nothing was imported. `errors` lists (line, message), every one."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = errors
        first_line, first_msg = errors[0]
        super().__init__(
            _("Line %(line)s: %(message)s (%(count)s bad lines; nothing imported).")
            % {"line": first_line, "message": first_msg, "count": len(errors)},
            field="file",
        )


IMPORT_COLUMNS = ("network", "kind", "url", "owners", "department", "active")
REQUIRED_COLUMNS = ("network", "kind", "url")
TRUE_WORDS = {"", "1", "yes", "true", "oui", "vrai", "y", "o"}
FALSE_WORDS = {"0", "no", "false", "non", "faux", "n"}


@transaction.atomic
def watched_accounts_import(
    *, actor, rows: Iterable[AccountRow], columns: Iterable[str], source: str = "", check_targets: bool = True
) -> dict:
    """Create or update accounts (key: url) from a CSV export: all or nothing, every bad line
    named. `owners` are staff e-mails separated by ';' or '|'. `actor` None is the system (the
    management command without --actor); otherwise a DCO."""
    if actor is not None:
        _require_dco(actor)
    columns = [c.strip().lower() for c in columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise WatchImportError([(1, _("missing column(s): %(cols)s") % {"cols": ", ".join(missing)})])
    users_by_email = {
        email.lower(): pk
        for email, pk in get_user_model().objects.filter(is_active=True).values_list("email", "pk")
        if email
    }
    errors: list[tuple[int, str]] = []
    seen_urls: dict[str, int] = {}
    parsed = []
    for row in rows:
        values = {
            (k or "").strip().lower(): (v or "").strip() for k, v in row.values.items() if k is not None
        }
        if None in row.values:
            errors.append((row.line, _("more cells than columns")))
            continue
        try:
            fields = _clean_account_fields(
                network=values.get("network", "").lower(),
                kind=values.get("kind", "").lower(),
                url=values.get("url", ""),
                department=values.get("department", ""),
                check_target=check_targets,
            )
        except ServiceError as exc:
            errors.append((row.line, f"{exc.field}: {exc.message}"))
            continue
        key = fields["url"].lower()
        if key in seen_urls:
            errors.append((row.line, _("url: the same account as line %(line)s") % {"line": seen_urls[key]}))
            continue
        seen_urls[key] = row.line
        owner_ids = []
        bad_owner = False
        for email in filter(
            None, (e.strip().lower() for e in values.get("owners", "").replace("|", ";").split(";"))
        ):
            if email not in users_by_email:
                errors.append(
                    (
                        row.line,
                        _("owners: no active staff member with the e-mail %(email)s") % {"email": email},
                    )
                )
                bad_owner = True
            else:
                owner_ids.append(users_by_email[email])
        active_word = values.get("active", "").lower()
        if active_word not in TRUE_WORDS | FALSE_WORDS:
            errors.append((row.line, _("active: yes or no")))
            continue
        if bad_owner:
            continue
        parsed.append((row.line, fields, owner_ids, active_word not in FALSE_WORDS))
    if errors:
        raise WatchImportError(errors)

    keys = [f["url"].lower() for _line, f, _o, _a in parsed]
    existing = {
        a.url.lower(): a
        for a in WatchedAccount.objects.select_for_update()
        .annotate(url_key=Lower("url"))
        .filter(url_key__in=keys)
    }
    created = updated = 0
    entries = []
    for _line, fields, owner_ids, active in parsed:
        account = existing.get(fields["url"].lower())
        if account is None:
            account = WatchedAccount.objects.create(
                **fields, active=active, registration=Registration.ACCEPTED, decided_by=actor
            )
            account.owners.set(owner_ids)
            created += 1
            entries.append(
                {
                    "action": "watch.account_create",
                    "obj": account,
                    "details": {**_account_details(account), "owners": sorted(owner_ids), "via": "import"},
                }
            )
            continue
        changed = [k for k, v in fields.items() if getattr(account, k) != v]
        for key in changed:
            setattr(account, key, fields[key])
        if account.active != active:
            account.active = active
            changed.append("active")
        if account.registration != Registration.ACCEPTED:
            account.registration = Registration.ACCEPTED
            changed.append("registration")
        if changed:
            account.save(update_fields=changed)
        if set(owner_ids) != set(account.owners.values_list("pk", flat=True)):
            account.owners.set(owner_ids)
            changed.append("owners")
        if changed:
            updated += 1
            entries.append(
                {
                    "action": "watch.account_update",
                    "obj": account,
                    "details": {**_account_details(account), "changed": sorted(changed), "via": "import"},
                }
            )
    summary = {
        "created": created,
        "updated": updated,
        "unchanged": len(parsed) - created - updated,
        "source": source[-200:],
    }
    entries.append({"action": "watch.import", "object_type": "watch.watchedaccount", "details": summary})
    audit_record_many(actor=actor, entries=entries)
    return summary


# --- owners told by name at a declaration --------------------------------------------------------


def _owner_accounts(owner_ids=None) -> dict[int, list[WatchedAccount]]:
    accounts = (
        WatchedAccount.objects.filter(registration=Registration.ACCEPTED, active=True)
        .prefetch_related("owners")
        .order_by("url")
    )
    by_owner: dict[int, list[WatchedAccount]] = {}
    for account in accounts:
        for owner in account.owners.all():
            if owner.is_active:
                by_owner.setdefault(owner.pk, []).append(account)
    return by_owner


def _render_both(template: str, context: dict) -> dict:
    """{language: {subject, message}} rendered from templates/watch/notices/<lang>/<template>."""
    out = {}
    for language in ("fr", "en"):
        with translation.override(language):
            subject = render_to_string(f"watch/notices/{language}/{template}_subject.txt", context)
            message = render_to_string(f"watch/notices/{language}/{template}.txt", context)
        out[language] = {"subject": " ".join(subject.split()), "message": message.strip()}
    return out


@transaction.atomic
def owners_tell(*, crisis: Crisis) -> CrisisWatch | None:
    """Tell each owner of a registered account, by name, that their accounts stay silent until
    the freeze ends: one notice per owner listing their accounts (acknowledged like the others,
    counted in the crisis's figures). Once per crisis: the CrisisWatch row is the record."""
    crisis = Crisis.objects.select_for_update().get(pk=crisis.pk)
    existing = CrisisWatch.objects.filter(crisis=crisis).first()
    if existing is not None or not crisis.is_open:
        return existing
    by_owner = _owner_accounts()
    for owner_id, accounts in by_owner.items():
        listed = [
            {"url": a.url, "network": a.get_network_display(), "watchable": a.watchable} for a in accounts
        ]
        context = {
            "title": crisis.title,
            "declared_at": crisis.declared_at.isoformat(),
            "freeze_until": crisis.freeze_until.isoformat(),
            "accounts": listed,
        }
        render_ctx = {**context, "freeze_until": timezone.localtime(crisis.freeze_until), "accounts": listed}
        context["localized"] = _render_both("owners_told", render_ctx)
        notify_users(event="watch.owners_told", user_ids=[owner_id], context=context, crisis_id=crisis.pk)
    record = CrisisWatch.objects.create(
        crisis=crisis,
        owners_told_at=timezone.now(),
        owners=len(by_owner),
        accounts=len({a.pk for accounts in by_owner.values() for a in accounts}),
    )
    audit_record(
        actor=None,
        action="watch.owners_told",
        obj=crisis,
        details={"owners": record.owners, "accounts": record.accounts},
    )
    return record


OWNERS_TOLD_AFTER = "crisis.declared"


def on_notice_event_saved(sender, instance, created, **kwargs):
    """post_save of the notifications outbox: right after the declaration's own notice row, tell
    the owners in the declaration's transaction (recorded with it, Redis or not; counted with
    its figures, which take targeted events recorded after it). A failure here must never stop
    a declaration: it is logged, and the next sweep tells them."""
    if not created or instance.event != OWNERS_TOLD_AFTER or instance.parent_id or not instance.crisis_id:
        return
    try:
        with transaction.atomic():  # a savepoint inside the declaration
            crisis = Crisis.objects.filter(pk=instance.crisis_id).first()
            if crisis is not None:
                owners_tell(crisis=crisis)
    except Exception:
        log.exception(
            "Could not tell the account owners of crisis %s; the next sweep will", instance.crisis_id
        )


# --- the sweep -----------------------------------------------------------------------------------


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


def _due_accounts(now):
    return (
        WatchedAccount.objects.filter(registration=Registration.ACCEPTED, active=True)
        .exclude(kind=WatchKind.UNWATCHABLE)
        .filter(Q(next_read_at__isnull=True) | Q(next_read_at__lte=now))
        .order_by("last_read_at", "pk")
    )


def _state(account: WatchedAccount) -> AccountState:
    return AccountState(
        pk=account.pk,
        kind=account.kind,
        url=account.url,
        network=account.network,
        remote_id=account.remote_id,
        cursor=account.cursor,
        etag=account.etag,
        last_modified=account.last_modified,
    )


def _backoff(errors: int) -> timedelta:
    interval = _setting("CRISISCOMM_WATCH_INTERVAL", 60)
    # Each failure in a row doubles the wait, up to an hour: a dead host is not hammered.
    return timedelta(seconds=min(interval * 2 ** max(errors - 1, 0), 3600)) if errors > 1 else timedelta(0)


def watch_sweep(*, now=None, concurrency: int | None = None, limiter: HostLimiter | None = None) -> dict:
    """Read every watchable account once (bounded concurrency; per-host pacing; Retry-After),
    then record what each read found, account by account: a bad account never stops the sweep.
    Off outside a crisis unless CRISISCOMM_WATCH_ALWAYS (then accounts are read, their health
    kept current, and nothing is a sighting)."""
    started = time.monotonic()
    crisis = crisis_open()
    if crisis is None and not _setting("CRISISCOMM_WATCH_ALWAYS", False):
        return {"skipped": "no crisis"}
    if crisis is not None and not CrisisWatch.objects.filter(crisis=crisis).exists():
        owners_tell(crisis=crisis)  # the declaration's own attempt failed: tell them now
    if not _try_sweep_lock():
        return {"skipped": "another sweep is running"}
    try:
        return _sweep(crisis, now=now, concurrency=concurrency, limiter=limiter, started=started)
    finally:
        _release_sweep_lock()


def _try_sweep_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SWEEP_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _release_sweep_lock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [SWEEP_LOCK_KEY])


def _sweep(crisis, *, now, concurrency, limiter, started) -> dict:
    now = now or timezone.now()
    accounts = list(_due_accounts(now))
    # Outside a crisis (WATCH_ALWAYS) read only what is new from now on.
    since = (
        crisis.declared_at if crisis else now - timedelta(seconds=_setting("CRISISCOMM_WATCH_INTERVAL", 60))
    )
    concurrency = max(1, int(concurrency or _setting("CRISISCOMM_WATCH_CONCURRENCY", 16)))
    fetch = Fetcher(limiter)
    authors, urls = official_refs() if crisis else (set(), set())
    by_pk = {a.pk: a for a in accounts}
    summary = {"accounts": len(accounts), "read": 0, "errors": 0, "deferred": 0, "sightings": 0,
               "concurrency": concurrency, "crisis": crisis.pk if crisis else None,
               "recording_seconds": 0.0, "recorders": 0}  # fmt: skip
    quiet: list[tuple[WatchedAccount, ReadResult]] = []
    counts_lock = threading.Lock()

    def record_one(account, result):
        try:
            found = _record(account, result, crisis=crisis, official=(authors, urls))
        except Exception as exc:  # one account's recording failed: shown on it, the sweep goes on
            log.exception("Recording the read of watched account %s failed", account.pk)
            _record_failure(account, exc)
            found, failed = 0, 1
        else:
            failed = 0
        with counts_lock:
            summary["sightings"] += found
            summary["errors"] += failed

    # Reads with news are recorded by a few threads of their own (each its own connection), so
    # that their database round trips overlap; not when the caller holds a transaction (their
    # connections could not see its rows), then in this thread.
    recorders = 0 if connection.in_atomic_block else max(0, int(_setting("CRISISCOMM_WATCH_RECORDERS", 4)))
    work: queue.Queue = queue.Queue()

    def recorder():
        try:
            while (item := work.get()) is not None:
                record_one(*item)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [
        threading.Thread(target=recorder, name=f"watch-record-{n}", daemon=True) for n in range(recorders)
    ]
    for thread in threads:
        thread.start()
    summary["recorders"] = recorders

    def flush_quiet():
        try:
            _record_quiet(quiet, now=timezone.now())
        except Exception:  # logged; these accounts are read again at the next sweep
            log.exception("Recording %s quiet reads failed", len(quiet))
        quiet.clear()

    try:
        if accounts:
            with ThreadPoolExecutor(
                max_workers=min(concurrency, len(accounts)), thread_name_prefix="watch"
            ) as pool:
                futures = {
                    pool.submit(read_account, _state(a), since=since, fetch=fetch): a.pk for a in accounts
                }
                for future in as_completed(futures):
                    account = by_pk[futures[future]]
                    result = future.result()  # read_account never raises
                    recording = time.monotonic()
                    outcome = (
                        "deferred"
                        if result.deferred_until is not None
                        else "errors"
                        if result.error
                        else "read"
                    )
                    with counts_lock:
                        summary[outcome] += 1
                    if _is_quiet(account, result):
                        quiet.append((account, result))
                        if len(quiet) >= QUIET_BATCH:
                            flush_quiet()
                    elif recorders:
                        work.put((account, result))
                    else:
                        record_one(account, result)
                    summary["recording_seconds"] += time.monotonic() - recording
    finally:
        recording = time.monotonic()
        flush_quiet()
        for _thread in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        summary["recording_seconds"] += time.monotonic() - recording
    summary["recording_seconds"] = round(summary["recording_seconds"], 3)
    summary["seconds"] = round(time.monotonic() - started, 3)
    return summary


# Reads that found nothing new on a healthy account (most of them, every sweep) are written
# together: one UPDATE per QUIET_BATCH accounts instead of a locked transaction each.
QUIET_BATCH = 250


def _is_quiet(account: WatchedAccount, result: ReadResult) -> bool:
    return (
        not result.posts
        and not result.error
        and result.deferred_until is None
        and account.consecutive_errors == 0
    )


def _record_quiet(reads: list[tuple[WatchedAccount, ReadResult]], *, now) -> int:
    """The new cursors and validators and the good read of accounts whose read found nothing.
    An account changed meanwhile (a DCO edited its URL or kind, or it started failing) is left
    alone: the condition on url, kind and consecutive_errors."""
    if not reads:
        return 0
    table = connection.ops.quote_name(WatchedAccount._meta.db_table)
    values, params = [], []
    for account, result in reads:
        values.append("(%s::bigint, %s, %s, %s, %s, %s, %s)")
        params += [account.pk, account.url, account.kind, result.remote_id, result.cursor,
                   result.etag[:300], result.last_modified[:100]]  # fmt: skip
    sql = f"""
        UPDATE {table} AS a
        SET last_read_at = %s, last_good_read_at = %s, remote_id = v.remote_id, cursor = v.cursor,
            etag = v.etag, last_modified = v.last_modified, next_read_at = NULL
        FROM (VALUES {", ".join(values)}) AS v(id, url, kind, remote_id, cursor, etag, last_modified)
        WHERE a.id = v.id AND a.url = v.url AND a.kind = v.kind AND a.consecutive_errors = 0
    """  # noqa: S608 - the table name is quoted, every value a parameter
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [now, now, *params])
        return cursor.rowcount


@transaction.atomic
def _record(account: WatchedAccount, result: ReadResult, *, crisis, official) -> int:
    """Write one read: the account's health and cursor, and its new sightings (once each: the
    account row is locked, and (account, post_id) is unique), with their audit entries and
    notices, in one transaction."""
    now = timezone.now()
    account = WatchedAccount.objects.select_for_update().get(pk=account.pk)
    if result.deferred_until is not None:
        account.next_read_at = datetime.fromtimestamp(result.deferred_until, tz=UTC)
        account.save(update_fields=["next_read_at"])
        return 0
    account.last_read_at = now
    fields = ["last_read_at"]
    if result.error:
        first_failure = account.consecutive_errors == 0
        account.consecutive_errors += 1
        account.last_error, account.last_error_at = result.error[:2000], now
        wait = (
            timedelta(seconds=result.retry_after)
            if result.retry_after
            else _backoff(account.consecutive_errors)
        )
        account.next_read_at = now + wait if wait else None
        fields += ["consecutive_errors", "last_error", "last_error_at", "next_read_at"]
        account.save(update_fields=fields)
        if first_failure:  # the trail records the account going bad, not every failed retry
            audit_record(
                actor=None, action="watch.account_error", obj=account, details={"error": account.last_error}
            )
        return 0
    # The sightings first, the account's state after: the row lock taken above is what makes
    # a concurrent recording of the same read wait, then find these posts known.
    found = _record_sightings(account, result, crisis=crisis, official=official, now=now) if crisis else 0
    recovered = account.consecutive_errors > 0
    account.remote_id, account.cursor = result.remote_id, result.cursor
    account.etag, account.last_modified = result.etag, result.last_modified
    account.last_good_read_at, account.consecutive_errors, account.next_read_at = now, 0, None
    fields += [
        "remote_id",
        "cursor",
        "etag",
        "last_modified",
        "last_good_read_at",
        "consecutive_errors",
        "next_read_at",
    ]
    account.save(update_fields=fields)
    if recovered:
        audit_record(
            actor=None, action="watch.account_recovered", obj=account, details={"error": account.last_error}
        )
    return found


def _record_failure(account: WatchedAccount, exc: Exception):
    """A read that could not be recorded (a database error, a pre-check bug) shows on the account
    like a read error, not only in the log: the DCO sees that this account is not watched. Its
    cursor is not advanced, so the next sweep reads the same posts again."""
    error = f"Recording what was read failed ({exc.__class__.__name__}: {str(exc)[:200]})."
    try:
        result = ReadResult(error=error)
        _record(account, result, crisis=None, official=(set(), set()))
    except Exception:  # the database itself is down: the log line above is all we can do
        log.exception("Marking watched account %s as failing failed too", account.pk)


def _record_sightings(account, result: ReadResult, *, crisis, official, now) -> int:
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
                "context": {**base, "localized": _render_both("sighting_owner", render_ctx)},
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
                "context": {**base, "localized": _render_both("sighting_dco", render_ctx)},
            }
        )
    return notices


# --- the DCO's review of a sighting ---------------------------------------------------------------


@transaction.atomic
def sighting_review(*, actor, sighting: Sighting, status: str, comment: str) -> Sighting:
    """A DCO marks a sighting acceptable or followed up, with a comment (audited)."""
    _require_dco(actor)
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
