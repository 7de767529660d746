"""PostgreSQL backend whose reuse check (CONN_HEALTH_CHECKS) costs no round trip when it can tell.

Django checks a persistent connection before a request first uses it with `SELECT 1`: a round
trip per request, which on a loaded host is as dear as a query (issue 13: `GET /api/v1/gate/`).
A server that ends a session (restart, pg_terminate_backend, idle timeout) sends a FATAL notice and
closes the socket, so an idle session with nothing to read, in a good state, is alive; anything
else (bytes or EOF waiting, broken, inside a transaction) falls back to Django's `SELECT 1`.

`server_binding_cursor()`: a Django cursor (captured, wrapped, health-checked like any other) on a
server-binding psycopg cursor, for the hot fixed queries (crisiscomm.precompiled): measured on
this host, the token lookup took ~0.1 ms with server-side binding against ~0.35 ms with the
default client-side binding (the server parses parameters once instead of a literal query).
"""

import select

from django.db.backends.postgresql import base
from django.utils.asyncio import async_unsafe
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        conn = self.connection
        try:
            if conn.closed or conn.broken or conn.pgconn.status != pq.ConnStatus.OK:
                return False
            if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                return False
            readable, _w, _x = select.select([conn.pgconn.socket], [], [], 0)
        except (OSError, ValueError, AttributeError):
            return False
        return not readable

    @async_unsafe
    def server_binding_cursor(self):
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = base.ServerBindingCursor(self.connection)
            # As create_cursor(): the session's time zone for timestamptz values.
            tzloader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, base.Format.TEXT)
            if self.timezone != tzloader.timezone:
                base.register_tzloader(self.timezone, cursor)
            return self._prepare_cursor(cursor)
