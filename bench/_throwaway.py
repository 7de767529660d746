"""A throwaway PostgreSQL database for a bench: named after the bench and the process, dropped after."""

import os
import sys
from urllib.parse import urlparse, urlunparse


def throwaway_url(label: str, bench: str):
    """(url of the throwaway database, url of the server's `postgres` database, its name)."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit(f"{bench} bench needs PostgreSQL (DATABASE_URL=postgres://…)")
    name = f"cc_bench_{label}_{os.getpid()}"
    return urlunparse(parsed._replace(path="/" + name)), urlunparse(parsed._replace(path="/postgres")), name


def admin_sql(admin_url, sql):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)
