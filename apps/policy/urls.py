from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("embargoes", api.EmbargoViewSet, basename="embargo")
router.register("policy-rules", api.PolicyRuleEditViewSet, basename="policy-rule")
router.register("precheck/rulings", api.RulingViewSet, basename="ruling")

urlpatterns = [
    path("precheck/", api.PrecheckView.as_view(), name="precheck-api"),
    path("precheck/figures/", api.FiguresView.as_view(), name="precheck-figures-api"),
    *router.urls,
]
