"""The sweep: every watchable account read once (bounded concurrency, per-host pacing), then
what each read found recorded account by account (sightings.py judges and records the posts);
a bad account never stops the sweep."""

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.services import audit_record
from apps.crises.selectors import crisis_open

from .models import CrisisWatch, Registration, WatchedAccount, WatchKind
from .owners import owners_tell
from .readers import AccountState, Fetcher, HostLimiter, ReadResult, read_account
from .sightings import official_refs, record_sightings

log = logging.getLogger(__name__)

# A pg advisory lock key: one sweep at a time across workers.
SWEEP_LOCK_KEY = 0x7761746368  # "watch"


def _setting(name, default):
    return getattr(settings, name, default)


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
    found = (
        record_sightings(account=account, result=result, crisis=crisis, official=official, now=now)
        if crisis
        else 0
    )
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
