"""/healthz answers without the database; /readyz answers 503 until the database can serve."""

from http import HTTPStatus

import pytest
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client


@pytest.fixture
def client() -> Client:
    return Client()


def test_healthz_answers_ok_without_database_access(client):
    # No `db` fixture: pytest-django fails the test if the view touches the database.
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_rejects_post(client):
    assert client.post("/healthz").status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.django_db
def test_readyz_answers_ok_when_database_is_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok", "database": "ok", "pending_migrations": 0}


@pytest.mark.django_db
def test_readyz_answers_503_when_database_is_unreachable(client, monkeypatch, log_output):
    def refuse() -> None:
        raise OperationalError('connection to server at "db" failed: Connection refused')

    monkeypatch.setattr(connection, "ensure_connection", refuse)

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
    assert "OperationalError" in log_output.getvalue()
    assert '"db"' not in log_output.getvalue()


@pytest.mark.django_db
def test_readyz_answers_503_when_migrations_are_pending(client, monkeypatch):
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [("migration", False)]
    )

    response = client.get("/readyz")

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"status": "unavailable", "database": "ok", "pending_migrations": 1}
