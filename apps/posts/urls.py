from rest_framework.routers import SimpleRouter

from .api import PostViewSet, SocialAccountViewSet

router = SimpleRouter()
router.register("social-accounts", SocialAccountViewSet, basename="social-account")
router.register("posts", PostViewSet, basename="post")

urlpatterns = router.urls
