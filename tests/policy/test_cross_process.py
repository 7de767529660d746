"""A rule change made in one process reaches the compiled rules of another at once (shared version
in Redis), not after the cache's maximum age."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.policy import selectors, services
from apps.policy.models import PolicyRule
from crisiscomm.embedded_db import database_url

CHECKER = """
import django
django.setup()
from apps.policy import selectors
selectors.MAX_AGE = 3600.0  # only the shared version may make this process recompile
for line in __import__("sys").stdin:
    result = selectors.precheck(network="linkedin", text=line.strip(), account_kind="personal")
    print(result.verdict, flush=True)
"""


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL: the version is shared through Redis")
@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_rule_change_at_once(dco):
    db = connection.settings_dict
    url = database_url(db)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "crisiscomm.settings",
    }
    root = Path(__file__).resolve().parents[2]
    checker = subprocess.Popen(
        [sys.executable, "-c", CHECKER],
        cwd=root,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:

        def ask(text):
            checker.stdin.write(text + "\n")
            checker.stdin.flush()
            return checker.stdout.readline().strip()

        text = "Une faiblesse du joint du réservoir"
        assert ask(text) == "warn"
        assert ask(text) == "warn"  # served from the checker's compiled rules
        services.policy_rule_update(
            actor=dco, rule=PolicyRule.objects.get(code="equipment.weakness"), data={"severity": "block"}
        )
        assert ask(text) == "blocked"
    finally:
        checker.stdin.close()
        checker.wait(timeout=10)
        selectors._bump()
