"""`seed_demo` fills the watch's registry, so that `make run` shows it: one account of each kind
(the unwatchable one included), each with an owner, and a re-run creates no duplicate."""

import pytest
from django.core.management import call_command

from apps.watch.models import Registration, WatchedAccount, WatchKind

pytestmark = pytest.mark.django_db


def test_seed_demo_registers_one_watched_account_of_each_kind_with_owners_once():
    """Mutation: the lookup by URL removed from seed_demo._watched -> the re-run hits the
    duplicate URL (409) and this test fails."""
    call_command("seed_demo")
    accounts = WatchedAccount.objects.all()
    assert sorted(accounts.values_list("kind", flat=True)) == sorted(WatchKind.values)
    for account in accounts:
        assert account.owners.exists(), account.url
        assert account.registration == Registration.ACCEPTED and account.active
    before = sorted(accounts.values_list("pk", "url"))

    call_command("seed_demo")
    assert sorted(WatchedAccount.objects.values_list("pk", "url")) == before
