"""Reading the public posts of a watched account, one reader per kind of account.

Readers run in worker threads and never touch the database: they get an `AccountState` snapshot
and return a `ReadResult`; the sweep (services.watch_sweep) records results. Every request goes
through `Fetcher`: the outbound rules, a per-host rate limit, Retry-After, a timeout, a size cap.

To add a network: a `Reader` subclass with a new `WatchKind` value as `kind`, decorated with
`@register`, and the URL shape in targets.shape_error.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.dateparse import parse_datetime
from django.utils.html import strip_tags

from apps.core import outbound
from apps.core.outbound import OutboundRefused

from .models import SightingKind, WatchKind
from .targets import bluesky_actor, mastodon_parts, outbound_refusal

MAX_BODY = 5 * 1024 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "crisiscomm-watch/1.0 (+the agency's communication directorate)"


class ReadError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class HostBlocked(Exception):
    """The host asked us to wait (Retry-After) and the time has not come: not read this sweep."""

    def __init__(self, until: float):
        super().__init__(until)
        self.until = until


@dataclass
class SeenPost:
    post_id: str
    url: str
    text: str
    published_at: datetime
    kind: str = SightingKind.POST
    boosted_author: str = ""  # acct / handle of the boosted post's author
    boosted_url: str = ""
    published_estimated: bool = False  # no date in the source: published_at is when first seen


@dataclass
class AccountState:
    pk: int
    kind: str
    url: str
    network: str = ""
    remote_id: str = ""
    cursor: str = ""
    etag: str = ""
    last_modified: str = ""


@dataclass
class ReadResult:
    posts: list[SeenPost] = field(default_factory=list)
    remote_id: str = ""
    cursor: str = ""
    etag: str = ""
    last_modified: str = ""
    error: str = ""
    retry_after: float | None = None
    deferred_until: float | None = None  # host blocked: not read at all


def _setting(name, default):
    return getattr(settings, name, default)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HostLimiter:
    """Per-host pacing shared by the sweep's threads: at most `rate` requests a second to one
    host (CRISISCOMM_WATCH_HOST_RATE, per host CRISISCOMM_WATCH_HOST_RATES), and a host that
    answered Retry-After is left alone until then — across sweeps and workers (the cache)."""

    CACHE_PREFIX = "crisiscomm:watch:host-blocked:"

    def __init__(self):
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}
        self._blocked: dict[str, float] = {}

    def rate(self, host: str) -> float:
        rates = _setting("CRISISCOMM_WATCH_HOST_RATES", {}) or {}
        return float(rates.get(host, _setting("CRISISCOMM_WATCH_HOST_RATE", 2.0)))

    def blocked_until(self, host: str) -> float | None:
        with self._lock:
            if host not in self._blocked:
                try:
                    self._blocked[host] = float(cache.get(self.CACHE_PREFIX + host) or 0)
                except Exception:  # no cache: this sweep's memory only
                    self._blocked[host] = 0.0
            until = self._blocked[host]
        return until if until > time.time() else None

    def block(self, host: str, seconds: float):
        until = time.time() + seconds
        with self._lock:
            self._blocked[host] = max(until, self._blocked.get(host, 0.0))
        with contextlib.suppress(Exception):  # no cache: this sweep's memory still holds it
            cache.set(self.CACHE_PREFIX + host, until, timeout=int(seconds) + 1)

    def acquire(self, host: str):
        until = self.blocked_until(host)
        if until is not None:
            raise HostBlocked(until)
        rate = self.rate(host)
        if rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + 1.0 / rate
        if slot > now:
            time.sleep(slot - now)


class Fetcher:
    """GETs for readers: outbound rules checked at every hop, paced per host, bounded."""

    def __init__(self, limiter: HostLimiter | None = None):
        self.limiter = limiter or HostLimiter()
        self.timeout = float(_setting("CRISISCOMM_WATCH_TIMEOUT", 10.0))
        self._local = threading.local()
        self._refusals: dict[str, str | None] = {}
        self._refusals_lock = threading.Lock()

    def _session(self) -> requests.Session:
        # One per thread (keep-alive); each request's host is checked again and the connection
        # pinned to the checked address (apps.core.outbound), redirects handled here hop by hop.
        session = getattr(self._local, "session", None)
        if session is None:
            session = outbound.session(field="url")
            session.headers["User-Agent"] = USER_AGENT
            self._local.session = session
        return session

    def _refusal(self, url: str) -> str | None:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._refusals_lock:
            if key in self._refusals:
                return self._refusals[key]
        refusal = outbound_refusal(url)
        with self._refusals_lock:
            self._refusals[key] = refusal
        return refusal

    def get(self, url: str, *, params=None, headers=None) -> requests.Response:
        for _hop in range(MAX_REDIRECTS + 1):
            refusal = self._refusal(url)
            if refusal:
                raise ReadError(refusal)
            host = urlsplit(url).netloc
            self.limiter.acquire(host)
            try:
                response = self._session().get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
                body = response.raw.read(MAX_BODY + 1, decode_content=True)
            except OutboundRefused as exc:
                raise ReadError(exc.message) from exc
            except requests.Timeout as exc:
                raise ReadError(f"{host} did not answer within {self.timeout:g} s.") from exc
            except (requests.RequestException, OSError) as exc:
                raise ReadError(f"{host} could not be reached: {exc.__class__.__name__}.") from exc
            if len(body) > MAX_BODY:
                raise ReadError(f"{host} sent more than {MAX_BODY // 1024 // 1024} MB.")
            response._content = body
            if response.status_code in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(response.url, response.headers["Location"])
                params = None
                continue
            if response.status_code in (429, 503):
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is None:
                    wait = float(_setting("CRISISCOMM_WATCH_DEFAULT_BACKOFF", 60))
                self.limiter.block(host, wait)
                raise ReadError(
                    f"{host} answered {response.status_code}; retry after {wait:g} s.", retry_after=wait
                )
            return response
        raise ReadError(f"Too many redirects from {url}.")


def _json(response, what: str):
    try:
        return response.json()
    except ValueError as exc:
        raise ReadError(f"{what}: the answer is not JSON (HTTP {response.status_code}).") from exc


def html_to_text(value: str) -> str:
    value = re.sub(r"<br\s*/?>|</p>\s*<p[^>]*>", "\n", value or "")
    return html.unescape(strip_tags(value)).strip()


def _aware(value) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- readers ---------------------------------------------------------------------------------

_READERS: dict[str, type[Reader]] = {}


def register(cls):
    _READERS[cls.kind] = cls
    return cls


def get_reader(kind: str) -> Reader:
    return _READERS[kind]()


def reader_kinds() -> list[str]:
    return sorted(_READERS)


class Reader:
    kind: str = ""

    def max_pages(self) -> int:
        return int(_setting("CRISISCOMM_WATCH_MAX_PAGES", 5))

    def read(self, state: AccountState, *, since: datetime, fetch: Fetcher) -> ReadResult:
        raise NotImplementedError


def _mastodon_id_key(value: str):
    # Mastodon ids are decimal strings of growing length: compare as numbers when they are.
    return (0, int(value)) if value.isdigit() else (1, value)


@register
class MastodonReader(Reader):
    """GET /api/v1/accounts/lookup once, then /api/v1/accounts/:id/statuses?since_id=…, newest
    first, following the Link rel="next" pages until a post older than the crisis or already read."""

    kind = WatchKind.MASTODON
    page_size = 40

    def read(self, state, *, since, fetch):
        base, user = mastodon_parts(state.url)
        host = urlsplit(base).hostname
        result = ReadResult(remote_id=state.remote_id, cursor=state.cursor)
        if not result.remote_id:
            response = fetch.get(f"{base}/api/v1/accounts/lookup", params={"acct": user})
            if response.status_code in (404, 410):
                raise ReadError(
                    f"The account @{user} no longer exists on {host} (HTTP {response.status_code})."
                )
            if response.status_code != 200:
                raise ReadError(f"Account lookup on {host}: HTTP {response.status_code}.")
            result.remote_id = str(_json(response, "Account lookup").get("id") or "")
            if not result.remote_id:
                raise ReadError(f"Account lookup on {host}: no account id in the answer.")
        url = f"{base}/api/v1/accounts/{result.remote_id}/statuses"
        params = {"limit": self.page_size}
        if state.cursor:
            params["since_id"] = state.cursor
        newest = state.cursor
        for _page in range(self.max_pages()):
            response = fetch.get(url, params=params)
            if response.status_code in (404, 410):
                raise ReadError(
                    f"The account @{user} no longer exists on {host} (HTTP {response.status_code})."
                )
            if response.status_code != 200:
                raise ReadError(f"Statuses of @{user} on {host}: HTTP {response.status_code}.")
            statuses = _json(response, "Statuses")
            if not isinstance(statuses, list):
                raise ReadError(f"Statuses of @{user} on {host}: not a list.")
            reached_end = not statuses
            for status in statuses:
                status_id = str(status.get("id") or "")
                created = _aware(status.get("created_at"))
                if not status_id or created is None:
                    continue
                if state.cursor and _mastodon_id_key(status_id) <= _mastodon_id_key(state.cursor):
                    reached_end = True
                    continue
                if not newest or _mastodon_id_key(status_id) > _mastodon_id_key(newest):
                    newest = status_id
                if created < since:
                    reached_end = True
                    continue
                result.posts.append(self._seen(status, own_id=result.remote_id, host=host))
            next_link = response.links.get("next", {}).get("url")
            if reached_end or not next_link:
                break
            url, params = next_link, None
        result.cursor = newest or ""
        return result

    @staticmethod
    def _seen(status, *, own_id, host) -> SeenPost:
        reblog = status.get("reblog")
        if reblog:
            author = (reblog.get("account") or {}).get("acct") or ""
            if author and "@" not in author:  # a local account: acct has no domain
                author = f"{author}@{host}"
            return SeenPost(
                post_id=str(status["id"]),
                url=status.get("url") or reblog.get("url") or reblog.get("uri") or "",
                text=html_to_text(reblog.get("content") or ""),
                published_at=_aware(status["created_at"]),
                kind=SightingKind.BOOST,
                boosted_author=author.lower(),
                boosted_url=reblog.get("url") or reblog.get("uri") or "",
            )
        replying_to = status.get("in_reply_to_account_id")
        # A reply to oneself continues a thread: a post like any other.
        kind = (
            SightingKind.REPLY
            if status.get("in_reply_to_id") and str(replying_to) != own_id
            else SightingKind.POST
        )
        return SeenPost(
            post_id=str(status["id"]),
            url=status.get("url") or status.get("uri") or "",
            text=html_to_text(status.get("content") or ""),
            published_at=_aware(status["created_at"]),
            kind=kind,
        )


REPOST = "app.bsky.feed.defs#reasonRepost"
PIN = "app.bsky.feed.defs#reasonPin"


def bluesky_post_url(uri: str, handle: str) -> str:
    # at://did:plc:…/app.bsky.feed.post/<rkey> → https://bsky.app/profile/<handle>/post/<rkey>
    return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}" if uri else ""


@register
class BlueskyReader(Reader):
    """app.bsky.feed.getAuthorFeed on the public AppView (CRISISCOMM_BLUESKY_APPVIEW), newest
    first, following `cursor` until a post older than the crisis or than the last read."""

    kind = WatchKind.BLUESKY
    page_size = 50

    def read(self, state, *, since, fetch):
        appview = _setting("CRISISCOMM_BLUESKY_APPVIEW", "https://public.api.bsky.app").rstrip("/")
        actor = bluesky_actor(state.url)
        last_read = _aware(state.cursor) if state.cursor else None
        result = ReadResult(remote_id=state.remote_id, cursor=state.cursor)
        newest = last_read
        params = {"actor": actor, "limit": self.page_size}
        for _page in range(self.max_pages()):
            response = fetch.get(f"{appview}/xrpc/app.bsky.feed.getAuthorFeed", params=params)
            if response.status_code != 200:
                error = {}
                with contextlib.suppress(ValueError):
                    error = response.json()
                what = error.get("error") or "HTTP"
                raise ReadError(f"Bluesky {actor}: {what} {error.get('message') or response.status_code}.")
            body = _json(response, "getAuthorFeed")
            items = body.get("feed") or []
            reached_end = not items
            for item in items:
                post = item.get("post") or {}
                reason = item.get("reason") or {}
                if reason.get("$type") == PIN:
                    continue  # the pinned post also appears in its own place
                author = post.get("author") or {}
                record = post.get("record") or {}
                is_repost = reason.get("$type") == REPOST
                if not is_repost and author.get("did") and not result.remote_id:
                    result.remote_id = author["did"]
                created = _aware(record.get("createdAt"))
                indexed = _aware(reason.get("indexedAt") if is_repost else post.get("indexedAt")) or created
                if indexed is None or not post.get("uri"):
                    continue
                # createdAt is set by the client (it can be backdated); indexedAt by the AppView.
                when = max(filter(None, (created, indexed))) if not is_repost else indexed
                if last_read and when <= last_read:
                    reached_end = True
                    continue
                if newest is None or when > newest:
                    newest = when
                if when < since:
                    reached_end = True
                    continue
                result.posts.append(self._seen(item, post, record, reason, when, actor))
            cursor = body.get("cursor")
            if reached_end or not cursor:
                break
            params = {"actor": actor, "limit": self.page_size, "cursor": cursor}
        result.cursor = newest.isoformat() if newest else ""
        return result

    @staticmethod
    def _seen(item, post, record, reason, when, actor) -> SeenPost:
        author = post.get("author") or {}
        url = bluesky_post_url(post["uri"], author.get("handle") or author.get("did") or actor)
        if reason.get("$type") == REPOST:
            return SeenPost(
                post_id=f"repost:{post['uri']}",
                url=url,
                text=record.get("text") or "",
                published_at=when,
                kind=SightingKind.BOOST,
                boosted_author=(author.get("handle") or author.get("did") or "").lower(),
                boosted_url=url,
            )
        kind = SightingKind.POST
        if record.get("reply"):
            parent_author = (((item.get("reply") or {}).get("parent") or {}).get("author") or {}).get("did")
            kind = (
                SightingKind.POST
                if parent_author and parent_author == author.get("did")
                else SightingKind.REPLY
            )
        return SeenPost(
            post_id=post["uri"],
            url=url,
            text=record.get("text") or "",
            published_at=_aware(record.get("createdAt")) or when,
            kind=kind,
        )


def _undated_key(post_id: str) -> str:
    return hashlib.sha256(post_id.encode()).hexdigest()[:16]


def _feed_memory(cursor: str) -> tuple[datetime | None, set[str]]:
    """(time of the last read, keys of the undated entries it found) from a feed's cursor."""
    try:
        memory = json.loads(cursor) if cursor else {}
        return _aware(memory.get("read_at")), set(memory.get("undated") or ())
    except (ValueError, TypeError, AttributeError):  # an older cursor: no memory
        return None, set()


def _feed_cursor(read_at: datetime, undated: set[str]) -> str:
    return json.dumps({"read_at": read_at.isoformat(), "undated": sorted(undated)}, separators=(",", ":"))


@register
class FeedReader(Reader):
    """RSS/Atom (blogs, YouTube channels, Mastodon's .rss) with a conditional GET: ETag and
    Last-Modified sent back, 304 read as "nothing new".

    An entry with no date (neither published nor updated) is placed by the reads that saw it:
    one already there at the first read of the crisis (or before the declaration) is the
    baseline, never a sighting; one that first appears at a later read appeared during the
    crisis: a sighting dated when it was first seen, marked `published_estimated`. The cursor
    keeps the last read's time and its undated entries (hashed) for that."""

    kind = WatchKind.FEED

    def read(self, state, *, since, fetch):
        read_at = datetime.now(UTC)
        last_read_at, undated_before = _feed_memory(state.cursor)
        # No read since the declaration yet: what is undated now may predate it.
        baseline = last_read_at is None or last_read_at < since
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        response = fetch.get(state.url, headers=headers)
        result = ReadResult(cursor=state.cursor, etag=state.etag, last_modified=state.last_modified)
        if response.status_code == 304:  # the same entries as at the last read, now
            result.cursor = _feed_cursor(read_at, undated_before)
            return result
        if response.status_code in (404, 410):
            raise ReadError(f"The feed is gone (HTTP {response.status_code}).")
        if response.status_code != 200:
            raise ReadError(f"The feed answered HTTP {response.status_code}.")
        parsed = feedparser.parse(
            response.content, response_headers={k.lower(): v for k, v in response.headers.items()}
        )
        if not parsed.entries and (parsed.bozo or not parsed.version):
            problem = getattr(parsed, "bozo_exception", None)
            raise ReadError(f"The feed does not parse: {problem or 'no RSS or Atom document'}.")
        result.etag = response.headers.get("ETag", "")
        result.last_modified = response.headers.get("Last-Modified", "")
        undated_now = set()
        for entry in parsed.entries:
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            post_id = entry.get("id") or entry.get("link")
            if not post_id:
                continue
            estimated = stamp is None
            if estimated:
                key = _undated_key(post_id)
                undated_now.add(key)
                if baseline or key in undated_before:
                    continue
                published = read_at
            else:
                published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
            if published < since:
                continue
            title = html_to_text(entry.get("title") or "")
            summary = html_to_text(entry.get("summary") or "")
            text = title if not summary or summary.startswith(title) else f"{title}\n{summary}"
            result.posts.append(
                SeenPost(
                    post_id=post_id[:300],
                    url=entry.get("link") or "",
                    text=text or summary,
                    published_at=published,
                    published_estimated=estimated,
                )
            )
        result.cursor = _feed_cursor(read_at, undated_now)
        return result


def read_account(state: AccountState, *, since: datetime, fetch: Fetcher) -> ReadResult:
    """One account, every failure caught: a bad account never stops the sweep."""
    try:
        return get_reader(state.kind).read(state, since=since, fetch=fetch)
    except HostBlocked as blocked:
        return ReadResult(deferred_until=blocked.until)
    except ReadError as exc:
        return ReadResult(error=exc.message, retry_after=exc.retry_after)
    except Exception as exc:  # a reader bug or a malformed answer: shown on the account
        return ReadResult(error=f"Unexpected answer ({exc.__class__.__name__}: {str(exc)[:200]}).")
