from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.crises.api import GateView


def healthz(request):
    return JsonResponse({"status": "ok"})


api_v1 = [
    path("", include("apps.accounts.urls")),
    path("", include("apps.audit.urls")),
    path("", include("apps.posts.urls")),
    path("", include("apps.crises.urls")),
    path("", include("apps.notifications.urls")),
    path("", include("apps.statements.urls")),
    path("", include("apps.policy.urls")),
    path("", include("apps.watch.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # accounts (issue 10): Swagger UI and Redoc from the service's own static files
    # (drf-spectacular-sidecar), their scripts in files so that the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="accounts/redoc.html"),
        name="api-redoc",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("notices/", include("apps.notifications.web_urls")),
    path("precheck/", include("apps.policy.web_urls")),
    path("watch/", include("apps.watch.web_urls")),
    path("", include("apps.web.urls")),
]

# Single sign-on: mounted always, so enabling it needs no URL reload; 404 until configured.
urlpatterns.insert(0, path("oidc/", include("apps.accounts.oidc_urls")))

# The gate first: external schedulers poll it hundreds of times a second, and each include
# passed on the way costs a resolver pass (issue 13).
urlpatterns.insert(0, path("api/v1/gate/", GateView.as_view(), name="gate"))

# Web helper: error pages in the site's layout, both languages; /api/ paths keep their JSON errors.
handler403 = "apps.web.errors.permission_denied"
# --- notifications helper (issue 13): bench/gate.py's baseline, a bare Django view in the same
# process as the gate; only when CRISISCOMM_BENCH_VIEWS is set (off by default).
if settings.CRISISCOMM_BENCH_VIEWS:

    def bench_bare(request):
        return JsonResponse({"open": True, "crisis": None})

    urlpatterns.insert(0, path("bench/bare/", bench_bare))
# --- end notifications helper ---

handler404 = "apps.web.errors.page_not_found"
handler500 = "apps.web.errors.server_error"

# accounts (issue 10): a malformed request under /api/ gets the JSON error too.
handler400 = "apps.core.api.bad_request"
