"""The project's URLs plus one page that fails, to see the real 500 handler at work."""

from django.urls import path

from crisiscomm.urls import handler403, handler404, handler500  # noqa: F401
from crisiscomm.urls import urlpatterns as project_urlpatterns


def broken_page(request):
    raise RuntimeError("a bug in a page")


urlpatterns = [path("broken-page/", broken_page), *project_urlpatterns]
