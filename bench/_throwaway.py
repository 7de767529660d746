"""A throwaway PostgreSQL database for a bench: named after the bench and the process, dropped after."""

import os
import sys
from urllib.parse import urlparse, urlunparse


def throwaway_url(label: str, bench: str):
    """(url of the throwaway database, url of the server's `postgres` database, its name)."""
    base = os.environ.get("DATABASE_URL") or _embedded_url()
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit(f"{bench} bench needs PostgreSQL (DATABASE_URL=postgres://…)")
    name = f"cc_bench_{label}_{os.getpid()}"
    return urlunparse(parsed._replace(path="/" + name)), urlunparse(parsed._replace(path="/postgres")), name


def _embedded_url() -> str:
    """No DATABASE_URL: the embedded server under var/ (started if needed), as `make run` uses."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from crisiscomm.embedded_db import database_settings, database_url

    var_dir = Path(os.environ.get("CRISISCOMM_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    return database_url(database_settings(var_dir, name="postgres"))


def admin_sql(admin_url, sql):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)
