from rest_framework.routers import SimpleRouter

from .api import CrisisViewSet

router = SimpleRouter()
router.register("crises", CrisisViewSet, basename="crisis")

# The gate, /api/v1/gate/, is mounted first in crisiscomm/urls.py (it is polled).
urlpatterns = router.urls
