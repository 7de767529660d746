from rest_framework.routers import SimpleRouter

from .api import SightingViewSet, WatchedAccountViewSet

router = SimpleRouter()
router.register("watched-accounts", WatchedAccountViewSet, basename="watched-account")
router.register("sightings", SightingViewSet, basename="sighting")

urlpatterns = router.urls
