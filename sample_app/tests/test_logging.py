"""One JSON object per log line, with request id, status and duration; never a secret."""

import json
import logging
import sys
from http import HTTPStatus

from django.urls import reverse

from config.logging import JsonFormatter
from tests.conftest import PASSWORD


def _lines(log_output) -> list[dict]:
    return [json.loads(line) for line in log_output.getvalue().splitlines()]


def _request_lines(log_output) -> list[dict]:
    return [line for line in _lines(log_output) if line["logger"] == "sample_app.request"]


def test_each_request_is_logged_as_one_json_line(auth_client, user, log_output):
    response = auth_client.get(reverse("me"), {"q": "secret-query"})

    [line] = _request_lines(log_output)
    assert line["method"] == "GET"
    assert line["path"] == "/api/me/"
    assert line["status"] == HTTPStatus.OK
    assert line["user_id"] == user.id
    assert line["request_id"] == response["X-Request-ID"]
    assert isinstance(line["duration_ms"], float)
    assert "secret-query" not in log_output.getvalue()


def test_sane_incoming_request_id_is_kept(api_client, log_output):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="abc-123.DEF_456")

    assert response["X-Request-ID"] == "abc-123.DEF_456"
    assert _request_lines(log_output)[0]["request_id"] == "abc-123.DEF_456"


def test_insane_incoming_request_id_is_replaced(api_client, log_output):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID='x" injected\nline')

    assert response["X-Request-ID"] != 'x" injected\nline'
    assert len(response["X-Request-ID"]) == 32
    assert "injected" not in log_output.getvalue()


def test_anonymous_request_logs_no_user(api_client, log_output):
    api_client.get("/healthz")

    assert _request_lines(log_output)[0]["user_id"] is None


def test_tokens_and_passwords_never_appear_in_logs(api_client, user, log_output):
    login = api_client.post(
        reverse("token_obtain_pair"), {"username": "alice", "password": PASSWORD}
    )
    access, refresh = login.json()["access"], login.json()["refresh"]
    api_client.get(reverse("me"), HTTP_AUTHORIZATION=f"Bearer {access}")
    api_client.get(reverse("me"), HTTP_AUTHORIZATION=f"Bearer {access}x")  # invalid: 401
    api_client.post(reverse("token_refresh"), {"refresh": refresh})
    api_client.post(reverse("token_refresh"), {"refresh": refresh})  # reused: 401

    output = log_output.getvalue()
    assert len(_request_lines(log_output)) == 5
    for secret in (PASSWORD, access, refresh, access.split(".")[2], refresh.split(".")[2]):
        assert secret not in output


def test_server_errors_are_logged_at_error_level(api_client, log_output, monkeypatch, db):
    monkeypatch.setattr("config.health.pending_migrations", lambda: 1 / 0)
    api_client.raise_request_exception = False

    response = api_client.get("/readyz")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert _request_lines(log_output)[0]["level"] == "ERROR"


def test_formatter_includes_exception_and_stack():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = sys.exc_info()
    record.stack_info = "Stack (most recent call last):"

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exc_info"]
    assert line["stack_info"] == "Stack (most recent call last):"
    assert "request_id" not in line
