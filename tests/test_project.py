"""Project-level checks: plumbing every app relies on, deployment files, roles at the edge."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- plumbing


@pytest.mark.django_db
def test_healthz_answers_without_auth(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_is_not_redirected_to_https_in_production(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # a load balancer probes over plain HTTP
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/schema/").status_code == 301


@pytest.mark.django_db
def test_openapi_schema_lists_the_main_paths(client):
    resp = client.get("/api/schema/?format=json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/users/",
        "/api/v1/users/me/",
        "/api/v1/audit/",
        "/api/v1/audit/verify/",
        "/api/v1/social-accounts/",
        "/api/v1/posts/",
        "/api/v1/gate/",
        "/api/v1/crises/",
        "/api/v1/crises/{id}/lift/",
        "/api/v1/crises/{id}/approve-lift/",
        "/api/v1/mandates/",
        "/api/v1/statements/",
        "/api/v1/notifications/",
    ]:
        assert path in paths, path
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_admin_shows_its_login_page(client):
    resp = client.get("/admin/")
    assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/")
    page = client.get(resp["Location"])
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode() and 'name="password"' in page.content.decode()


@pytest.mark.django_db
def test_dco_signs_in_to_the_admin(client, make_user):
    user = make_user("dco", username="chief", is_staff=True, is_superuser=True)
    assert client.login(username=user.username, password="correct-horse-battery")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/audit/auditentry/").status_code == 200


def _clean_env(**extra):
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**keep, **extra}


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = _clean_env(
        SECRET_KEY="k7#Qv2!pZr9@Lm4$Xw8^Tn1&Hs6*Bd3(Fg5)Jc0-Yu2+Ea7=Ri9_Oq4%Wz1",
        ALLOWED_HOSTS="crisiscomm.agency.example",
        CRISISCOMM_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="crisiscomm.settings",
        # outbound: production sets the field keys (a Fernet key: 32 bytes, url-safe base64).
        CRISISCOMM_FIELD_KEYS="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_deploy_flags_the_local_fallback_key(tmp_path):
    env = _clean_env(CRISISCOMM_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="crisiscomm.settings")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "SECRET_KEY" in proc.stderr


# --------------------------------------------------------------------------- deployment files


def test_docker_compose_describes_the_production_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis", "mailpit"} <= set(services)

    def command(name):
        cmd = services[name]["command"]
        return " ".join(cmd) if isinstance(cmd, list) else cmd

    assert command("web").startswith("gunicorn crisiscomm.wsgi")
    assert command("worker").startswith("celery -A crisiscomm worker")
    assert command("beat").startswith("celery -A crisiscomm beat")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "mailpit" in services["mailpit"]["image"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
        assert env["EMAIL_URL"].startswith("smtp://mailpit:")
        assert env["SECRET_KEY"]
        assert {"postgres", "redis"} <= set(services[name]["depends_on"])
    assert (ROOT / services["web"]["build"] / "Dockerfile").exists()


def test_workers_stop_cleanly_within_their_grace_and_consume_the_fanout_queue():
    """docker stop sends SIGTERM then SIGKILL after the grace: the workers run the solo pool (the
    stop reaches the delivery, which stops between two mails) and get longer than one bounded
    send (3 x the 20 s send timeout); the fan-out queue is consumed."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("worker", "worker-fanout"):
        command = services[name]["command"]
        assert "--pool=solo" in command and "notifications.fanout" in command
        grace = services[name]["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > 60
    procfile = (ROOT / "Procfile").read_text()
    assert "notifications.fanout" in procfile and "--pool=solo" in procfile


def test_procfile_runs_web_worker_and_beat():
    lines = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert set(lines) == {"web", "worker", "beat"}
    assert "celery -A crisiscomm worker" in lines["worker"]
    assert "celery -A crisiscomm beat" in lines["beat"]


# --------------------------------------------------------------------------- roles at the edge

# DCO actions: anonymous → 401, an employee → 403, whatever the body (rights come before input).
DCO_ONLY = [
    ("get", "/api/v1/audit/"),
    ("get", "/api/v1/audit/verify/"),
    ("post", "/api/v1/crises/"),
    ("post", "/api/v1/social-accounts/"),
    ("post", "/api/v1/posts/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url"), DCO_ONLY)
def test_dco_actions_refuse_anonymous_401_and_employee_403(api, employee, method, url):
    anonymous = getattr(api, method)(url, {}, format="json")
    assert anonymous.status_code == 401
    assert anonymous.has_header("WWW-Authenticate")
    assert "detail" in anonymous.json()
    denied = getattr(api.as_user(employee), method)(url, {}, format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_dco_passes_the_rights_check_and_gets_field_errors(api, dco):
    resp = api.as_user(dco).post("/api/v1/crises/", {"severity": 7}, format="json")
    assert resp.status_code == 400
    assert "title" in resp.json()["errors"] or "severity" in resp.json()["errors"]


# --------------------------------------------------------------------------- token auth


@pytest.mark.django_db
def test_token_endpoint(api, make_user):
    make_user("employee", username="alice")
    good = api.post("/api/v1/auth/token/", {"username": "alice", "password": "correct-horse-battery"})
    assert good.status_code == 200 and len(good.json()["token"]) == 64 and good.json()["expiry"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {good.json()['token']}")
    assert api.get("/api/v1/users/me/").json()["username"] == "alice"
    api.credentials()
    bad = api.post("/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/json" and bad.json()["detail"]
    missing = api.post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert missing.status_code == 400 and "password" in missing.json()["errors"]


# --------------------------------------------------------------------------- demo data


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_covers_roles_networks_and_a_week(capsys):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from apps.accounts.roles import user_roles
    from apps.audit.selectors import audit_chain_verify
    from apps.posts.models import Network, Post, PostStatus, SocialAccount

    call_command("seed_demo")
    out = capsys.readouterr().out
    users = get_user_model().objects
    for username, role in [
        ("dco", "dco"),
        ("dco2", "dco"),
        ("spokesperson", "spokesperson"),
        ("expert", "expert"),
        ("employee", "employee"),
        ("auditor", "auditor"),
    ]:
        user = users.get(username=username)
        assert role in user_roles(user)
        assert user.check_password(f"{username}-demo-2026") and f"{username}-demo-2026" in out
    assert set(SocialAccount.objects.values_list("network", flat=True)) == set(Network.values)
    posts = Post.objects.filter(status=PostStatus.SCHEDULED)
    now = timezone.now()
    assert posts.filter(scheduled_at__lte=now).count() == 0
    assert posts.filter(scheduled_at__gt=now + timezone.timedelta(days=7)).count() == 0
    # 5 to 10 a day over the week (today and day 7 are partial).
    assert 5 * 6 <= posts.count() <= 10 * 8
    counts = (users.count(), SocialAccount.objects.count(), Post.objects.count())

    call_command("seed_demo")
    assert (users.count(), SocialAccount.objects.count(), Post.objects.count()) == counts
    assert users.get(username="dco2").is_staff and not users.get(username="employee").is_staff
    assert users.filter(staff_profile__language="en").exists()
    assert users.exclude(staff_profile__department="").count() >= 6
    assert audit_chain_verify().valid


@pytest.mark.django_db
def test_seed_demo_refuses_a_production_installation(settings):
    from django.core.management import CommandError

    settings.SECRET_KEY = "a-real-production-key-" + "x" * 40
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")


def test_readme_documents_every_environment_variable():
    import re

    settings_src = (ROOT / "crisiscomm" / "settings.py").read_text()
    readme = (ROOT / "README.md").read_text()
    names = set(re.findall(r"""[eE]nv(?:\(\))?\.\w+\(\s*["']([A-Z][A-Z0-9_]+)["']""", settings_src))
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CRISISCOMM_PUBLISH_INTERVAL"} <= names
    assert sorted(n for n in names if f"`{n}`" not in readme) == []


@pytest.mark.django_db
def test_unknown_api_urls_answer_json_404_and_pages_html(client, api, employee):
    resp = api.as_user(employee).get("/api/v1/no-such-thing/")
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    missing = api.as_user(employee).get("/api/v1/users/999999/")
    assert missing.status_code == 404 and missing.json()["detail"]
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
