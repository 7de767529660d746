"""crisiscomm.db_backends.postgresql (gate helper, issue 13): the reuse check of a persistent
connection skips Django's `SELECT 1` round trip when the idle session has nothing waiting, and
still replaces a session the server has ended. Real server sessions, really terminated."""

import time

import pytest
from django.db import close_old_connections, connection, connections

pytestmark = pytest.mark.django_db(transaction=True)  # autocommit: an idle session, as in serving


def _backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_backend_is_in_use_with_health_checks_on():
    assert connections["default"].__class__.__module__ == "crisiscomm.db_backends.postgresql.base"
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_session_the_server_ended_is_replaced_before_the_next_request_uses_it():
    """Mutation: _idle_and_quiet() returning True always -> the dead session is reused -> the
    query fails (OperationalError) -> this test fails."""
    pid = _backend_pid()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    time.sleep(0.5)  # the FATAL notice and the close reach our socket
    close_old_connections()  # what every request starts with (request_started)
    assert _backend_pid() != pid


def test_a_healthy_idle_session_is_reused_without_a_round_trip(monkeypatch):
    """Mutation: the close_if_health_check_failed override removed -> Django's is_usable()
    (`SELECT 1`) runs before the query -> this test fails."""
    pid = _backend_pid()
    checks = []
    wrapper = type(connections["default"])
    real = wrapper.is_usable
    monkeypatch.setattr(wrapper, "is_usable", lambda self: checks.append(1) or real(self))
    close_old_connections()
    assert _backend_pid() == pid  # the same session, kept
    assert checks == []


def test_the_server_binding_cursor_binds_parameters_is_captured_and_keeps_time_zones():
    """What crisiscomm.precompiled runs the token and gate lookups on: parameters bound by the
    server (a literal % passes through), timestamps in Django's zone whatever the session's, and
    the query seen by Django's capture like any other. Mutation: server_binding_cursor()
    returning the bare psycopg cursor (not through _prepare_cursor) -> not captured -> fails.
    (Its time-zone registration mirrors Django's create_cursor; with one TIME_ZONE per process it
    never differs from the connection's, so no test here can tell it is there.)"""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    with conn.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Tokyo'")  # a session zone unlike Django's (UTC)
    try:
        with CaptureQueriesContext(conn) as ctx, conn.server_binding_cursor() as cursor:
            cursor.execute(
                "SELECT %s::text, TIMESTAMPTZ '2026-01-01 00:00:00+00' WHERE %s::int = 1", ["a%b", 1]
            )
            rows = cursor.fetchall()
        assert rows[0][0] == "a%b"
        assert rows[0][1].utcoffset().total_seconds() == 0, rows
        assert len(ctx.captured_queries) == 1 and "TIMESTAMPTZ" in ctx.captured_queries[0]["sql"]
    finally:
        conn.close()  # the session zone dies with the session
