"""Background stats: the API enqueues a task in the database, a worker (db_worker) runs it,
the API then reports its result, to its owner only."""

from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse

from api.models import Note


@pytest.fixture
def notes(user) -> None:
    Note.objects.create(owner=user, title="one two", body="three")
    Note.objects.create(owner=user, title="four", body="")


def run_worker() -> None:
    """What the kit's worker service runs, until no task is left (--batch)."""
    call_command("db_worker", batch=True, interval=0, verbosity=0)


def test_stats_are_enqueued_and_not_run_in_the_request(auth_client, notes):
    response = auth_client.post(reverse("note_stats"))

    assert response.status_code == HTTPStatus.ACCEPTED
    assert response.json()["status"] == "READY"
    assert response.json()["result"] is None


def test_a_worker_runs_the_task_and_the_api_reports_the_result(auth_client, notes):
    task_id = auth_client.post(reverse("note_stats")).json()["id"]
    run_worker()

    response = auth_client.get(reverse("note_stats_result", args=[task_id]))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "id": task_id,
        "status": "SUCCESSFUL",
        "result": {"notes": 2, "words": 4},
    }


def test_another_users_task_is_not_found(auth_client, api_client, make_user, notes):
    task_id = auth_client.post(reverse("note_stats")).json()["id"]
    other = make_user("bob")
    api_client.force_authenticate(other)

    assert api_client.get(reverse("note_stats_result", args=[task_id])).status_code == 404


def test_an_unknown_task_is_not_found(auth_client, user):
    unknown = "00000000-0000-4000-8000-000000000000"
    assert auth_client.get(reverse("note_stats_result", args=[unknown])).status_code == 404


def test_stats_need_a_token(api_client, db):
    assert api_client.post(reverse("note_stats")).status_code == HTTPStatus.UNAUTHORIZED
