from django.db.models import QuerySet
from rest_framework import generics, viewsets
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView

from api.models import Note
from api.serializers import NoteSerializer, UserSerializer


class LoginView(TokenObtainPairView):
    """POST username + password, get an access and a refresh token; throttled per client."""

    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "login"


class MeView(generics.RetrieveAPIView):
    serializer_class = UserSerializer

    def get_object(self):
        return self.request.user


class NoteViewSet(viewsets.ModelViewSet):
    """The current user's notes. Other users' notes are outside the queryset, hence 404."""

    serializer_class = NoteSerializer

    def get_queryset(self) -> QuerySet[Note]:
        return Note.objects.filter(owner=self.request.user)

    def perform_create(self, serializer: NoteSerializer) -> None:
        serializer.save(owner=self.request.user)
