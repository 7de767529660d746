"""The networks the connectors speak to, as thin protocols on the shared loopback server
(tests.core.servers.LoopbackServer: recording, delays, trickle, stop).

FakeMastodon: POST /api/v1/statuses (Bearer token, Idempotency-Key honoured like Mastodon: a
repeated key returns the status already made), DELETE /api/v1/statuses/:id.
WebhookReceiver: records every delivery, answers 204; `messages(secret)` checks signatures.
Both take `fail_with`: status codes to answer with, one per request, before succeeding.
"""

import hashlib
import hmac

from tests.core.servers import LoopbackServer


class _Network(LoopbackServer):
    @property
    def fail_with(self):
        return [status for status, _body in self.script]

    @fail_with.setter
    def fail_with(self, statuses):
        self.script = [(status, {"error": "induced failure"}) for status in statuses]


class FakeMastodon(_Network):
    TOKEN = "mastodon-test-token"

    def __init__(self):
        super().__init__()
        self.statuses = {}  # id -> {"status": text, "key": idempotency key}
        self.by_key = {}
        self.deleted = []

    def respond(self, request):
        if request["headers"].get("Authorization") != f"Bearer {self.TOKEN}":
            return 401, {"error": "The access token is invalid"}
        if request["method"] == "POST" and request["route"] == "/api/v1/statuses":
            form = request.form()
            if not form.get("status"):
                return 422, {"error": "Validation failed: Text can't be blank"}
            key = request["headers"].get("Idempotency-Key")
            with self.lock:
                if key and key in self.by_key:
                    sid = self.by_key[key]
                else:
                    sid = str(100000 + len(self.statuses))
                    self.statuses[sid] = {"status": form["status"], "key": key}
                    if key:
                        self.by_key[key] = sid
            return 200, {"id": sid, "url": f"{self.url}/@agency/{sid}", "content": form["status"]}
        if request["method"] == "DELETE" and request["route"].startswith("/api/v1/statuses/"):
            sid = request["route"].rsplit("/", 1)[1]
            with self.lock:
                if sid not in self.statuses:
                    return 404, {"error": "Record not found"}
                self.deleted.append(sid)
                return 200, {"id": sid, "text": self.statuses.pop(sid)["status"]}
        return 404, {"error": "not found"}


class WebhookReceiver(_Network):
    def __init__(self, *, path=""):
        super().__init__(status=204, body=b"", path=path)

    def messages(self, secret: str) -> list[dict]:
        """Each delivery's JSON, with "signed": whether its X-Crisiscomm-Signature is right."""
        with self.lock:
            received = list(self.received)
        messages = []
        for request in received:
            expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
            signature = request["headers"].get("X-Crisiscomm-Signature", "")
            messages.append({**request.json(), "signed": hmac.compare_digest(signature, expected)})
        return messages

    def post_ids(self):
        return [body["post_id"] for body in self.json_bodies()]
