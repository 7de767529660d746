from rest_framework.routers import SimpleRouter

from .api import MandateViewSet, PostApprovalViewSet, StatementViewSet, ValidationChainViewSet

router = SimpleRouter()
router.register("mandates", MandateViewSet, basename="mandate")
router.register("statements", StatementViewSet, basename="statement")
router.register("validation-chains", ValidationChainViewSet, basename="validation-chain")
router.register("post-approvals", PostApprovalViewSet, basename="post-approval")
urlpatterns = router.urls
