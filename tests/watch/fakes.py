"""Loopback stand-ins for the networks the watch reads, built from their documented answers:

- Mastodon: GET /api/v1/accounts/lookup?acct= (404 {"error": "Record not found"} when the account
  is gone), GET /api/v1/accounts/:id/statuses?limit=&since_id=&max_id= (newest first, a
  `Link: <…max_id=…>; rel="next"` header while older statuses remain), 429 with Retry-After.
- Bluesky AppView: GET /xrpc/app.bsky.feed.getAuthorFeed?actor=&limit=&cursor= → {feed, cursor};
  400 {"error": "InvalidRequest", "message": "Profile not found"} for an unknown actor; reposts
  carry reason app.bsky.feed.defs#reasonRepost, replies record.reply.
- Feeds: RSS 2.0 / Atom with ETag and Last-Modified; 304 to a matching If-None-Match.

One shared loopback server (tests.core.servers.LoopbackServer, free port on 127.0.0.1) serves
all three; `latency` delays every request (the benchmark's slow network).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

from tests.core.servers import LoopbackServer


def iso(when: datetime) -> str:
    # Milliseconds, as Mastodon and the Bluesky AppView give them: cut to the second, a post made
    # in the declaration's second would read as older than the declaration (the flake of
    # test_worker, where the first sweep can come within a second of the declaration).
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class FakeNetworks(LoopbackServer):
    def __init__(self, latency: float = 0.0):
        super().__init__()
        self.latency = latency
        # Mastodon: username -> {"id": str, "statuses": [status dicts, any order]}
        self.mastodon: dict[str, dict] = {}
        self._next_id = 110_000_000_000_000_000
        # Bluesky: handle -> {"did": str, "feed": [feed items]}
        self.bluesky: dict[str, dict] = {}
        # Feeds: name -> {"entries": [(id, title, link, published)], "etag", "broken", "atom"}
        self.feeds: dict[str, dict] = {}
        self.rate_limited: dict[str, int] = {}  # path prefix -> how many 429s still to answer
        self.retry_after = "2"

    def start(self):
        """Serving since construction; kept so `FakeNetworks().start()` (bench/watch.py) reads on."""
        return self

    @property
    def latency(self) -> float:
        """Seconds every request takes to arrive (the benchmark's slow network)."""
        return self.request_delay

    @latency.setter
    def latency(self, seconds: float):
        self.request_delay = seconds

    @property
    def requests(self) -> list[tuple[str, dict, dict]]:
        """(path, query, headers) of each request, in arrival order."""
        with self.lock:
            return [(r["route"], r["query"], r["headers"]) for r in self.received]

    # --- building the worlds -------------------------------------------------------------------

    def new_id(self) -> str:
        with self.lock:
            self._next_id += 1
            return str(self._next_id)

    def mastodon_account(self, username: str) -> str:
        self.mastodon.setdefault(username, {"id": self.new_id(), "statuses": []})
        return f"{self.base}/@{username}"

    def toot(self, username, text, when, *, reply_to_account=None, reblog_of=None) -> dict:
        account = self.mastodon[username]
        status_id = self.new_id()
        status = {
            "id": status_id,
            "created_at": iso(when),
            "in_reply_to_id": self.new_id() if reply_to_account else None,
            "in_reply_to_account_id": reply_to_account,
            "visibility": "public",
            "url": f"{self.base}/@{username}/{status_id}",
            "uri": f"{self.base}/users/{username}/statuses/{status_id}",
            "content": f"<p>{text}</p>",
            "account": {"id": account["id"], "username": username, "acct": username},
            "reblog": None,
        }
        if reblog_of is not None:
            status["content"] = ""
            status["url"] = None
            status["reblog"] = reblog_of
        with self.lock:
            account["statuses"].append(status)
        return status

    @staticmethod
    def remote_status(acct, text, when, url) -> dict:
        return {
            "id": "1", "created_at": iso(when), "content": f"<p>{text}</p>", "url": url, "uri": url,
            "account": {"id": "9", "username": acct.split("@")[0], "acct": acct}, "reblog": None,
        }  # fmt: skip

    def bluesky_account(self, handle: str) -> str:
        self.bluesky.setdefault(handle, {"did": f"did:plc:{handle.split('.')[0]}00000000", "feed": []})
        return f"https://bsky.app/profile/{handle}"

    def skeet(self, handle, text, when, *, reply_parent_did=None, repost_of=None) -> dict:
        account = self.bluesky[handle]
        rkey = f"3k{self.new_id()[-10:]}"
        if repost_of is not None:
            author_handle, original_rkey, original_text = repost_of
            item = {
                "post": {
                    "uri": f"at://did:plc:other/app.bsky.feed.post/{original_rkey}",
                    "cid": "bafy",
                    "author": {"did": "did:plc:other", "handle": author_handle},
                    "record": {"$type": "app.bsky.feed.post", "text": original_text, "createdAt": iso(when)},
                    "indexedAt": iso(when),
                },
                "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost",
                    "by": {"did": account["did"], "handle": handle},
                    "indexedAt": iso(when),
                },
            }
        else:
            record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": iso(when)}
            item = {
                "post": {
                    "uri": f"at://{account['did']}/app.bsky.feed.post/{rkey}",
                    "cid": "bafy",
                    "author": {"did": account["did"], "handle": handle},
                    "record": record,
                    "indexedAt": iso(when),
                }
            }
            if reply_parent_did:
                parent = {"uri": f"at://{reply_parent_did}/app.bsky.feed.post/x", "cid": "bafy"}
                record["reply"] = {"root": parent, "parent": parent}
                item["reply"] = {
                    "root": {"author": {"did": reply_parent_did}},
                    "parent": {"author": {"did": reply_parent_did}},
                }
        with self.lock:
            account["feed"].append((when, item))
        return item

    def feed(self, name: str, *, atom=False) -> str:
        self.feeds.setdefault(
            name, {"entries": [], "etag": '"v0"', "broken": False, "atom": atom, "version": 0}
        )
        return f"{self.base}/feeds/{name}.xml"

    def feed_entry(self, name, title, when, *, link=None):
        feed = self.feeds[name]
        with self.lock:
            n = len(feed["entries"]) + 1
            feed["entries"].append((f"tag:{name},{n}", title, link or f"{self.base}/{name}/{n}", when))
            feed["version"] += 1
            feed["etag"] = f'"v{feed["version"]}"'

    # --- serving -------------------------------------------------------------------------------

    def respond(self, request):
        path, query = request["route"], request["query"]
        with self.lock:
            for prefix, remaining in self.rate_limited.items():
                if remaining > 0 and path.startswith(prefix):
                    self.rate_limited[prefix] = remaining - 1
                    return 429, {"error": "Too many requests"}, {"Retry-After": self.retry_after}
        if path == "/api/v1/accounts/lookup":
            return self._lookup(query)
        if path.startswith("/api/v1/accounts/") and path.endswith("/statuses"):
            return self._statuses(path.split("/")[4], query)
        if path == "/xrpc/app.bsky.feed.getAuthorFeed":
            return self._author_feed(query)
        if path.startswith("/feeds/"):
            return self._feed(path[len("/feeds/") : -len(".xml")], request["headers"])
        return 404, {"error": "Not found"}

    def _lookup(self, query):
        account = self.mastodon.get(query.get("acct", "").split("@")[0])
        if account is None:
            return 404, {"error": "Record not found"}
        username = query["acct"].split("@")[0]
        url = f"{self.base}/@{username}"
        return 200, {"id": account["id"], "username": username, "acct": username, "url": url}

    def _statuses(self, account_id, query):
        account = next((a for a in self.mastodon.values() if a["id"] == account_id), None)
        if account is None:
            return 404, {"error": "Record not found"}
        limit = min(int(query.get("limit", 20)), 40)
        with self.lock:
            statuses = sorted(account["statuses"], key=lambda s: int(s["id"]), reverse=True)
        if "since_id" in query:
            statuses = [s for s in statuses if int(s["id"]) > int(query["since_id"])]
        if "max_id" in query:
            statuses = [s for s in statuses if int(s["id"]) < int(query["max_id"])]
        page, rest = statuses[:limit], statuses[limit:]
        headers = {}
        if page and rest:
            path = f"/api/v1/accounts/{account_id}/statuses"
            headers["Link"] = (
                f'<{self.base}{path}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                f'<{self.base}{path}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return 200, page, headers

    def _author_feed(self, query):
        account = self.bluesky.get(query.get("actor", ""))
        if account is None:
            return 400, {"error": "InvalidRequest", "message": "Profile not found"}
        limit = min(int(query.get("limit", 50)), 100)
        with self.lock:
            items = [item for _when, item in sorted(account["feed"], key=lambda p: p[0], reverse=True)]
        start = int(query.get("cursor") or 0)
        page = items[start : start + limit]
        body = {"feed": page}
        if start + limit < len(items):
            body["cursor"] = str(start + limit)
        return 200, body

    def _feed(self, name, request_headers):
        feed = self.feeds.get(name)
        if feed is None:
            return 404, "not found", {"Content-Type": "text/plain"}
        if feed["broken"]:
            return 200, "<html><body><p>Maintenance <b>unclosed", {"Content-Type": "application/rss+xml"}
        if request_headers.get("If-None-Match") == feed["etag"]:
            return 304, b"", {"ETag": feed["etag"]}
        # An entry whose `when` is None carries no date at all (some feeds do that).
        last = max((e[3] for e in feed["entries"] if e[3]), default=datetime(2026, 1, 1, tzinfo=UTC))
        headers = {"ETag": feed["etag"], "Last-Modified": format_datetime(last, usegmt=True)}
        if feed["atom"]:
            entries = "".join(
                f"<entry><id>{i}</id><title>{t}</title><link href='{lnk}'/>"
                + (f"<updated>{iso(w)}</updated>" if w else "")
                + "</entry>"
                for i, t, lnk, w in feed["entries"]
            )
            xml = (
                "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                f"<title>{name}</title><id>urn:{name}</id><updated>{iso(last)}</updated>{entries}</feed>"
            )
            return 200, xml, {"Content-Type": "application/atom+xml", **headers}
        items = "".join(
            f"<item><guid>{i}</guid><title>{t}</title><link>{lnk}</link>"
            + (f"<pubDate>{format_datetime(w, usegmt=True)}</pubDate>" if w else "")
            + "</item>"
            for i, t, lnk, w in feed["entries"]
        )
        xml = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>{name}</title><link>{self.base}</link><description>d</description>{items}</channel></rss>"
        )
        return 200, xml, {"Content-Type": "application/rss+xml", **headers}
