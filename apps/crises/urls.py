from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import CrisisViewSet, GateView

router = SimpleRouter()
router.register("crises", CrisisViewSet, basename="crisis")

urlpatterns = [path("gate/", GateView.as_view(), name="gate"), *router.urls]
