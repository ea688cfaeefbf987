from rest_framework.routers import DefaultRouter

from coordinators.api import CoordinatorViewSet

router = DefaultRouter(trailing_slash=False)
router.include_root_view = False
router.register("coordinators", CoordinatorViewSet, basename="coordinator")

urlpatterns = router.urls
