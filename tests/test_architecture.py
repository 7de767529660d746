"""The house rules `make lint` checks beside import-linter (tools/check_architecture.py)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    path = ROOT / "tools" / "check_architecture.py"
    spec = importlib.util.spec_from_file_location("check_architecture", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_cycle_hidden_in_a_function_is_found(tmp_path):
    """Mutation: `imports()` walking only the module's top level (tree.body) instead of
    ast.walk -> the lazy import is missed and this test fails."""
    root = _tree(
        tmp_path,
        {
            "apps/__init__.py": "",
            "apps/posts/__init__.py": "",
            "apps/posts/services.py": "def send():\n    from apps.crises import services\n",
            "apps/crises/__init__.py": "",
            "apps/crises/services.py": "from apps.posts.services import send\n",
            "crisiscomm/__init__.py": "",
        },
    )
    offences = _checker().check(root)
    assert offences == ["import cycle: apps.crises.services -> apps.posts.services"]


def test_a_long_module_is_named_but_migrations_and_rule_data_are_not(tmp_path):
    checker = _checker()
    long_text = "x = 1\n" * (checker.MAX_LINES + 1)
    root = _tree(
        tmp_path,
        {
            "apps/__init__.py": "",
            "apps/statements/services.py": long_text,
            "apps/statements/migrations/0001_initial.py": long_text,
            "apps/policy/guide.py": long_text,
            "crisiscomm/__init__.py": "",
        },
    )
    expected = f"apps/statements/services.py: {checker.MAX_LINES + 1} lines (at most 600)"
    assert checker.check(root) == [expected]


def test_the_domain_importing_drf_is_named_but_the_http_modules_are_not(tmp_path):
    """Mutation: `is_domain()` answering False for every module -> the service's DRF import goes
    unnoticed -> this test fails."""
    root = _tree(
        tmp_path,
        {
            "apps/__init__.py": "",
            "apps/crises/__init__.py": "",
            "apps/crises/ending.py": (
                "def lift():\n    from rest_framework.exceptions import ValidationError\n"
            ),
            "apps/crises/api.py": "from rest_framework import viewsets\n",
            "apps/web/views.py": "from rest_framework.response import Response\n",
            "crisiscomm/__init__.py": "",
        },
    )
    assert _checker().check(root) == [
        "apps/crises/ending.py: the domain imports the HTTP layer (rest_framework.exceptions)"
    ]


def test_a_positional_selector_or_service_is_named(tmp_path):
    """Selectors, services and the concept modules services.py re-exports from take keyword-only
    arguments; private helpers, methods, nested functions and the models' validators are not
    looked at.
    Mutation: the keyword-only loop removed from check() -> nothing is named, this test fails.
    (On the real tree, `def crisis_report(crisis)` put back in apps/crises/selectors.py -> the
    lint's last step names it and exits 1.)
    Mutation: keyword_only_scope() without the re-exported modules -> ending.py's function is
    missed, this test fails."""
    root = _tree(
        tmp_path,
        {
            "apps/__init__.py": "",
            "apps/crises/__init__.py": "",
            "apps/crises/selectors.py": (
                "def crisis_report(crisis):\n    return _helper(crisis)\n\n"
                "def _helper(crisis):\n    return crisis\n\n"
                "def crisis_posts(*, crisis):\n    def key(post):\n        return post\n    return key\n\n"
                "class Report:\n    def section(self, name):\n        return name\n"
            ),
            "apps/crises/services.py": "from .ending import crisis_lift\nfrom .models import Crisis\n",
            "apps/crises/ending.py": "def crisis_lift(actor, *, crisis):\n    return crisis\n",
            "apps/crises/models.py": "def validate_title(value):\n    return value\n",
            "apps/crises/api.py": "def report(request, pk):\n    return pk\n",
            "crisiscomm/__init__.py": "",
        },
    )
    rule = " takes positional arguments (selectors and services are keyword-only: def fn(*, ...))"
    assert _checker().check(root) == [
        "apps/crises/selectors.py: crisis_report(crisis)" + rule,
        "apps/crises/ending.py: crisis_lift(actor)" + rule,
    ]


def test_in_ci_a_skipped_test_is_a_failure(tmp_path):
    """With CRISISCOMM_NO_SKIPS (set by .ci/run), a skip (a browser test without Chromium, a
    broker test without Redis) fails the run instead of passing unnoticed. Mutation: the
    `report.outcome = "failed"` line removed from tests/no_skips.py -> the run exits 0 -> this
    test fails."""
    import os
    import subprocess
    import sys

    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_needs_chromium.py").write_text(
        "import pytest\n\ndef test_browser():\n    pytest.skip('Chromium not installed')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CRISISCOMM_NO_SKIPS": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.no_skips"]
    ran = subprocess.run(
        [*command, "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Chromium not installed" in ran.stdout
    env.pop("CRISISCOMM_NO_SKIPS")
    local = subprocess.run(
        [*command, "-c", str(tmp_path / "pytest.ini"), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
