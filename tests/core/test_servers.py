"""The shared loopback server the fakes are built on: what the tests rely on when they script an
answer or stop a peer (no database, no product code)."""

import pytest
import requests

from .servers import LoopbackServer


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
        yield session


def test_scripted_answers_come_first_one_per_request_and_every_request_is_recorded(http):
    """Mutation: the script no longer popped (`self.script[0]`) -> every answer is the first
    scripted one and this test fails."""
    script = [503, (429, {"wait": 1}, {"Retry-After": "2"})]
    with LoopbackServer(path="/hook", body={"id": "1"}, script=script) as peer:
        answers = [http.post(peer.url, json={"n": n}, timeout=5) for n in range(3)]
    assert [a.status_code for a in answers] == [503, 429, 200]
    assert answers[1].headers["Retry-After"] == "2" and answers[2].json() == {"id": "1"}
    assert [(r["method"], r["route"]) for r in peer.received] == [("POST", "/hook")] * 3
    assert peer.json_bodies() == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_a_fake_that_breaks_answers_500_and_says_why(http):
    """A bug in a fake must not pass for the network's answer (nor hang the client).

    Mutation: the except around respond() removed -> the handler thread dies without an answer,
    the client reads a dropped connection, and this test fails."""

    def broken(request):
        raise KeyError("redirect_uri")

    with LoopbackServer(handler=broken) as peer:
        answer = http.get(peer.url + "/auth", timeout=5)
    assert answer.status_code == 500 and "redirect_uri" in answer.json()["error"]
    assert [type(e) for e in peer.errors] == [KeyError]


def test_a_stopped_server_refuses_even_on_a_kept_alive_connection(http):
    """`peer.stop()` is a peer that died: the next request fails, even on the connection the
    client kept open (HTTP/1.1 keep-alive), instead of being answered by a leftover thread.

    Mutation: stop() without cutting the open connections -> the second request is answered
    200 and this test fails."""
    peer = LoopbackServer()
    assert http.get(peer.url, timeout=5).status_code == 200
    peer.stop()
    with pytest.raises(requests.ConnectionError):
        http.get(peer.url, timeout=5)
    assert len(peer.received) == 1
