from rest_framework.routers import SimpleRouter

from .api import NoticeViewSet, TeamWebhookViewSet

router = SimpleRouter()
router.register("notifications", NoticeViewSet, basename="notice")
router.register("team-webhooks", TeamWebhookViewSet, basename="team-webhook")
urlpatterns = router.urls
