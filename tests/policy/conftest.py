import pytest

from apps.policy import selectors
from apps.policy.guide import seed_rules
from apps.policy.models import PolicyRule


@pytest.fixture(autouse=True)
def _fresh_policy(request):
    """Each test starts from the guide's rules and a fresh compiled matcher.

    The data migration installs the rules, but a transactional test elsewhere may have flushed them;
    and a rolled-back test leaves its compiled rules in this process, hence the bump.
    """
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        seed_rules(PolicyRule)
    selectors._bump()
    yield
    selectors._bump()


@pytest.fixture
def crisis(dco):
    from apps.crises.services import crisis_declare

    return crisis_declare(
        actor=dco, title="Anomalie lanceur", summary="internal", severity=2, topics=["launcher"]
    )


@pytest.fixture
def check():
    """check(text, network, account_kind="personal", has_photo=False, language="en") → result."""
    from django.utils import translation

    def run(text, network="linkedin", account_kind="personal", has_photo=False, language="en"):
        with translation.override(language):
            return selectors.precheck(
                network=network, text=text, account_kind=account_kind, has_photo=has_photo
            )

    return run
