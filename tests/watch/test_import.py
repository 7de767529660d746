"""CSV import of the registry: all or nothing, every bad line named; re-running updates."""

import io

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEntry
from apps.watch.models import WatchedAccount

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.CRISISCOMM_OUTBOUND_ALLOW = "127.0.0.1"


def run(tmp_path, text, *args):
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_watched_accounts", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


GOOD = """network;kind;url;owners;department;active
mastodon;mastodon;http://127.0.0.1:9/@lab_optics;alice@agency.example|bob@agency.example;Optics;yes
bluesky;bluesky;https://bsky.app/profile/lab.bsky.social;alice@agency.example;Optics;
youtube;feed;http://127.0.0.1:9/feeds/videos.xml;;Media;oui
linkedin;unwatchable;https://www.linkedin.com/in/bob;bob@agency.example;;non
"""


def test_a_good_file_is_imported_and_a_rerun_updates_in_place(tmp_path, make_user):
    alice = make_user("employee", username="alice", email="alice@agency.example")
    bob = make_user("employee", username="bob", email="bob@agency.example")
    out, _err = run(tmp_path, GOOD)
    assert "created 4, updated 0, unchanged 0" in out
    lab = WatchedAccount.objects.get(url="http://127.0.0.1:9/@lab_optics")
    assert (
        set(lab.owners.all()) == {alice, bob}
        and lab.department == "Optics"
        and lab.registration == "accepted"
    )
    assert WatchedAccount.objects.get(kind="unwatchable").active is False
    changed = GOOD.replace("Media;oui", "Video;oui")
    out, _err = run(tmp_path, changed)
    assert "created 0, updated 1, unchanged 3" in out
    assert WatchedAccount.objects.get(kind="feed").department == "Video"
    summary = AuditEntry.objects.filter(action="watch.import").last()
    assert summary.details["updated"] == 1


def test_every_bad_line_is_named_and_nothing_is_imported(tmp_path, make_user):
    """Mutation: the `if errors: raise` removed (rows written as they come) -> the good lines
    are imported, this test fails."""
    make_user("employee", username="alice", email="alice@agency.example")
    text = """network,kind,url,owners,department,active
mastodon,mastodon,http://127.0.0.1:9/@good,alice@agency.example,Optics,yes
mastodon,mastodon,http://127.0.0.1:9/users/bad,,Optics,yes
friendster,feed,http://127.0.0.1:9/f.xml,,,
bluesky,bluesky,https://bsky.app/profile/lab.bsky.social,ghost@agency.example,,
blog,feed,http://127.0.0.1:9/f.xml,,,maybe
mastodon,mastodon,http://127.0.0.1:9/@GOOD,,,
"""
    with pytest.raises(CommandError, match="5 bad line"):
        run(tmp_path, text)
    assert not WatchedAccount.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="watch.").exists()


def test_the_errors_name_each_line_and_field(tmp_path, make_user):
    text = """network,kind,url
mastodon,mastodon,http://127.0.0.1:9/users/bad
friendster,feed,http://127.0.0.1:9/f.xml
mastodon,mastodon,http://127.0.0.1:9/@ok
mastodon,mastodon,http://127.0.0.1:9/@OK
"""
    path = tmp_path / "a.csv"
    path.write_text(text)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_watched_accounts", str(path), stderr=err)
    lines = err.getvalue().splitlines()  # FILE:LINE: message, as the staff import says them
    assert lines[0].startswith(f"{path}:2: url:")
    assert lines[1].startswith(f"{path}:3: network:")
    assert lines[2] == f"{path}:5: url: the same account as line 4"


def test_a_missing_column_and_a_dry_run(tmp_path):
    with pytest.raises(CommandError):
        run(tmp_path, "network,url\nmastodon,http://127.0.0.1:9/@x\n")
    out, _err = run(tmp_path, "network,kind,url\nmastodon,mastodon,http://127.0.0.1:9/@x\n", "--dry-run")
    assert out.startswith("Dry run, nothing written. Would have:\ncreated 1")
    assert not WatchedAccount.objects.exists()


def test_the_registry_page_imports_and_names_the_bad_lines(client, dco):
    client.force_login(dco)
    bad = io.BytesIO(b"network,kind,url\nmastodon,mastodon,http://127.0.0.1:9/users/x\n")
    bad.name = "list.csv"
    page = client.post("/watch/import/", {"file": bad}, follow=True)
    assert "Line 2: url:" in page.content.decode() and "Nothing was imported." in page.content.decode()
    good = io.BytesIO(b"network,kind,url\nmastodon,mastodon,http://127.0.0.1:9/@x\n")
    good.name = "list.csv"
    page = client.post("/watch/import/", {"file": good}, follow=True)
    assert "1 created" in page.content.decode()
    assert WatchedAccount.objects.get().url == "http://127.0.0.1:9/@x"


def test_only_a_dco_or_the_system_imports(tmp_path, make_user):
    """A named actor must be a DCO: the command says so and imports nothing.
    Mutation: require_role removed from watched_accounts_import -> the file is imported by an
    employee and this test fails."""
    make_user("employee", username="alice", email="alice@agency.example")
    text = "network,kind,url,owners\nmastodon,mastodon,http://127.0.0.1:9/@lab,alice@agency.example\n"
    with pytest.raises(CommandError, match="communication directorate officer"):
        run(tmp_path, text, "--actor", "alice")
    assert not WatchedAccount.objects.exists()
