from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("embargoes", api.EmbargoViewSet, basename="embargo")
router.register("policy-rules", api.PolicyRuleViewSet, basename="policy-rule")

urlpatterns = [
    path("precheck/", api.PrecheckView.as_view(), name="precheck-api"),
    *router.urls,
]
