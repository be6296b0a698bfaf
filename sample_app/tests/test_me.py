from http import HTTPStatus

from django.urls import reverse


def test_me_returns_current_user(auth_client, user):
    response = auth_client.get(reverse("me"))

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"id": user.id, "username": "alice", "email": "alice@example.org"}


def test_me_is_read_only(auth_client):
    response = auth_client.patch(reverse("me"), {"username": "mallory"})

    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
