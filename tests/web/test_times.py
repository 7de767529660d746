"""Times as the reader reads them: the service's time zone, their language's format, minutes; never
an ISO string, never microseconds, never "a.m.." at the end of a sentence.

Two checks: every translatable message of the code base formatted with a time (a static walk of
the catalogue's call sites), and the messages and pages the time-bearing errors actually render,
in English and French."""

import ast
import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format

from apps.posts.models import Post
from tests.web.helpers import declare, make_account, make_posts, run_notice_worker

APPS = Path(settings.BASE_DIR) / "apps"
GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}
ERRORS = {"ServiceError", "ConflictError", "NotAllowedError", "ValidationError"}
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?([+-]\d{2}:?\d{2}|Z)?")
BAD = [ISO, re.compile(r"\d:\d{2}:\d{2}\.\d{3,}"), re.compile(r"[ap]\.m\.\."), re.compile(r"\+00:00")]


def _called_name(node):
    if isinstance(node, ast.Call):
        func = node.func
        return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return None


def _has_isoformat(node) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "isoformat"
        for n in ast.walk(node)
    )


def iso_in_messages(root: Path) -> list[str]:
    """Every place where a translatable message is filled with `.isoformat()` (`_("…%(x)s") %
    {...: t.isoformat()}`, or `.format(...)`/f-string on a gettext call), as "path:line"."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            filled = None
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Mod)
                and _called_name(node.left) in GETTEXT
            ):
                filled = node.right
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "format"
                and _called_name(node.func.value) in GETTEXT
            ):
                filled = node
            elif _called_name(node) in ERRORS:
                fstrings = [a for a in node.args if isinstance(a, ast.JoinedStr)]
                filled = ast.Tuple(elts=fstrings, ctx=ast.Load())
            if filled is not None and _has_isoformat(filled):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_no_translatable_message_is_filled_with_an_iso_timestamp():
    """The catalogue-wide check: no message a person reads is built from `isoformat()` (the
    services format times with `date_format(localtime(…))`, see apps/web/formats)."""
    assert iso_in_messages(APPS) == []


def test_the_scan_finds_an_iso_message(tmp_path):
    """The scanner itself: a message built from isoformat() is found (so an empty list means
    something). Mutation: the `%` branch of iso_in_messages removed -> this test fails."""
    pkg = tmp_path / "apps" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "services.py").write_text(
        "from django.utils.translation import gettext as _\n"
        "def f(t):\n"
        "    return _('until %(t)s') % {'t': t.isoformat()}\n"
        "def g(t):\n"
        "    raise ServiceError(f'until {t.isoformat()}')\n"
    )
    assert iso_in_messages(tmp_path / "apps") == ["apps/demo/services.py:3", "apps/demo/services.py:5"]


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_date_formats_are_24_hour_with_the_zone_and_no_doubled_full_stop(lang):
    moment = timezone.make_aware(timezone.datetime(2026, 12, 1, 8, 36, 27, 524613))
    with translation.override(lang):
        long = date_format(timezone.localtime(moment), "DATETIME_FORMAT")
        short = date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
        sentence = f"The freeze lasts until {long}."
    assert "08:36" in long and "CET" in long and "27" not in long.split("08:36")[1]
    assert "08:36" in short
    assert not any(p.search(sentence) for p in BAD), sentence
    assert "a.m" not in long and "p.m" not in long
    assert ("décembre" if lang == "fr" else "December") in long


# --- the messages the time-bearing errors render -----------------------------------------------


def visible_text(response) -> str:
    """What a person reads: tags and their attributes removed (a machine-readable datetime
    attribute, e.g. <time datetime=…> or the countdown's data attribute, is not read)."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def messages_of(response) -> list[str]:
    return [m.message for m in response.context["messages"]] if response.context else []


def assert_reads_well(texts):
    for text in texts:
        for pattern in BAD:
            assert not pattern.search(text), f"{pattern.pattern!r} in {text!r}"


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_time_bearing_errors_and_pages_show_local_times(client, dco, lang, settings):
    """Mutation: apps/web/formats/en DATETIME_FORMAT back to Django's "N j, Y, P" -> this test
    fails ("… give a time after Dec. 1, 2026, 10:10 a.m.." in the extend refusal)."""
    settings.CRISISCOMM_FIGURES_TTL = 0
    client.force_login(dco)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    account = make_account(dco)
    posts = make_posts(dco, account, n=2, start_in=timedelta(hours=2))
    crisis = declare(dco)
    run_notice_worker()
    said = []
    # Extending the freeze to an earlier time.
    earlier = timezone.localtime(crisis.freeze_until - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/control/crises/{crisis.pk}/extend/", {"freeze_until": earlier}, follow=True)
    said += messages_of(response)
    # Lifting before the end of the freeze.
    response = client.post(f"/control/crises/{crisis.pk}/lift/", {"comment": "x"}, follow=True)
    said += messages_of(response)
    # Releasing a post whose time passed during the freeze.
    Post.objects.filter(pk=posts[0].pk).update(scheduled_at=timezone.now() - timedelta(minutes=5))
    response = client.post(
        f"/control/crises/{crisis.pk}/decisions/",
        {"decision": "release", "posts": [posts[0].pk]},
        follow=True,
    )
    said += messages_of(response)
    # A calendar post in the past.
    past = timezone.localtime(timezone.now() - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/calendar/posts/new/", {"account": account.pk, "body": "Old news", "scheduled_at": past}, follow=True
    )
    said += messages_of(response)
    assert len(said) >= 4, said
    assert all(m for m in said)
    assert_reads_well(said)
    # The pages that show times.
    pages = [
        "/",
        "/control/",
        f"/control/crises/{crisis.pk}/review/",
        f"/control/crises/{crisis.pk}/report/",
        f"/control/crises/{crisis.pk}/not-acknowledged/",
        "/calendar/",
        f"/calendar/posts/{posts[1].pk}/",
        "/inbox/",
        "/audit/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_reads_well([visible_text(response)])
