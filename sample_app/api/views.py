from uuid import UUID

from django.db.models import QuerySet
from django_tasks import TaskResult, TaskResultStatus
from django_tasks.exceptions import TaskResultDoesNotExist
from rest_framework import generics, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from api.models import Note
from api.serializers import NoteSerializer, UserSerializer
from api.tasks import note_stats


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


def _stats_json(result: TaskResult) -> dict:
    done = result.status == TaskResultStatus.SUCCESSFUL
    return {
        "id": str(result.id),
        "status": result.status,
        "result": result.return_value if done else None,
    }


class NoteStatsView(APIView):
    """POST: count the current user's notes and words in the background; 202 with the task's
    id, which GET /api/stats/<id>/ follows until its status is SUCCESSFUL."""

    def post(self, request: Request) -> Response:
        return Response(
            _stats_json(note_stats.enqueue(request.user.id)), status=status.HTTP_202_ACCEPTED
        )


class NoteStatsResultView(APIView):
    """GET: the status of one of the current user's stats tasks, and its result once it ran.
    Another user's task is 404, as an unknown one."""

    def get(self, request: Request, task_id: UUID) -> Response:
        try:
            result = note_stats.get_result(str(task_id))
        except TaskResultDoesNotExist as missing:
            raise NotFound from missing
        if list(result.args) != [request.user.id]:
            raise NotFound
        return Response(_stats_json(result))
