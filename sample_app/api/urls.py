from django.urls import path
from rest_framework.routers import SimpleRouter
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenRefreshView,
    TokenVerifyView,
)

from api.views import LoginView, MeView, NoteStatsResultView, NoteStatsView, NoteViewSet

router = SimpleRouter()
router.register("notes", NoteViewSet, basename="note")

urlpatterns = [
    path("token/", LoginView.as_view(), name="token_obtain_pair"),
    path("token/refresh/", TokenRefreshView.as_view(), name="token_refresh"),
    path("token/verify/", TokenVerifyView.as_view(), name="token_verify"),
    path("token/blacklist/", TokenBlacklistView.as_view(), name="token_blacklist"),
    path("me/", MeView.as_view(), name="me"),
    path("stats/", NoteStatsView.as_view(), name="note_stats"),
    path("stats/<uuid:task_id>/", NoteStatsResultView.as_view(), name="note_stats_result"),
    *router.urls,
]
