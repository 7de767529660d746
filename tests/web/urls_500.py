"""The project's URLs plus one page that fails, to see the real 500 handler at work."""

from django.urls import path

from crisiscomm.urls import handler403, handler404, handler500  # noqa: F401
from crisiscomm.urls import urlpatterns as project_urlpatterns


def broken_page(request):
    raise RuntimeError("a bug in a page")


def broken_page_database_gone(request):
    """A bug while the database has gone away (its server ended this session)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    raise RuntimeError("a bug while the database is gone")


urlpatterns = [
    path("broken-page/", broken_page),
    path("broken-page-database-gone/", broken_page_database_gone),
    *project_urlpatterns,
]
