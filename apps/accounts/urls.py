from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import ObtainTokenView, UserViewSet

router = SimpleRouter()
router.register("users", UserViewSet, basename="user")
urlpatterns = [path("auth/token/", ObtainTokenView.as_view(), name="api-token"), *router.urls]
