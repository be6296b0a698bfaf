"""Notes: CRUD for the owner, pagination, and nothing at all for anyone else."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from api.models import Note


@pytest.fixture
def other_users_note(make_user) -> Note:
    return Note.objects.create(owner=make_user("bob"), title="bob's", body="private")


def test_user_can_create_note(auth_client, user):
    response = auth_client.post(reverse("note-list"), {"title": "First", "body": "hello"})

    assert response.status_code == HTTPStatus.CREATED
    note = Note.objects.get()
    assert note.owner == user
    assert response.json() == {
        "id": note.id,
        "title": "First",
        "body": "hello",
        "created_at": note.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": note.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_note_without_title_is_rejected_with_400(auth_client):
    response = auth_client.post(reverse("note-list"), {"body": "no title"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"title": ["This field is required."]}


def test_owner_cannot_be_set_by_client(auth_client, user, make_user):
    bob = make_user("bob")

    auth_client.post(reverse("note-list"), {"title": "mine", "owner": bob.id})

    assert Note.objects.get().owner == user


def test_user_can_retrieve_update_and_delete_own_note(auth_client, user):
    note = Note.objects.create(owner=user, title="draft")
    url = reverse("note-detail", args=[note.id])

    assert auth_client.get(url).json()["title"] == "draft"
    assert auth_client.patch(url, {"body": "more"}).status_code == HTTPStatus.OK
    assert auth_client.put(url, {"title": "final", "body": ""}).status_code == HTTPStatus.OK
    note.refresh_from_db()
    assert (note.title, note.body) == ("final", "")
    assert auth_client.delete(url).status_code == HTTPStatus.NO_CONTENT
    assert not Note.objects.filter(id=note.id).exists()


def test_list_shows_only_own_notes_newest_first(auth_client, user, other_users_note):
    Note.objects.create(owner=user, title="older")
    Note.objects.create(owner=user, title="newer")

    response = auth_client.get(reverse("note-list"))

    assert response.status_code == HTTPStatus.OK
    assert [note["title"] for note in response.json()["results"]] == ["newer", "older"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_note_is_not_found(auth_client, other_users_note, method):
    url = reverse("note-detail", args=[other_users_note.id])

    response = getattr(auth_client, method)(url, {"title": "stolen"})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "No Note matches the given query."}
    other_users_note.refresh_from_db()
    assert (other_users_note.title, other_users_note.body) == ("bob's", "private")


def test_list_is_paginated(auth_client, user):
    Note.objects.bulk_create(Note(owner=user, title=f"note {i}") for i in range(25))
    url = reverse("note-list")

    first = auth_client.get(url).json()
    second = auth_client.get(first["next"]).json()

    assert first["count"] == 25
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/notes/?page=2"
    assert len(second["results"]) == 5
    assert second["next"] is None
    ids = {note["id"] for note in first["results"]} | {note["id"] for note in second["results"]}
    assert len(ids) == 25


def test_page_beyond_the_last_is_not_found(auth_client, user):
    response = auth_client.get(reverse("note-list"), {"page": 2})

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {"detail": "Invalid page."}


def test_notes_require_authentication(api_client, db):
    response = api_client.get(reverse("note-list"))

    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_note_str_is_its_title(user):
    assert str(Note(owner=user, title="groceries")) == "groceries"
