"""JWT: obtain, refresh (with rotation), verify, blacklist, and the tokens that must be refused."""

import base64
import json
from datetime import timedelta
from http import HTTPStatus

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework_simplejwt.tokens import AccessToken
from rest_framework_simplejwt.utils import aware_utcnow

from tests.conftest import PASSWORD

TOKEN_NOT_VALID = {
    "detail": "Given token not valid for any token type",
    "code": "token_not_valid",
    "messages": [
        {
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid",
        }
    ],
}


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _get_me(api_client, access: str):
    return api_client.get(reverse("me"), HTTP_AUTHORIZATION=f"Bearer {access}")


def test_existing_user_can_obtain_token_pair(api_client, user):
    response = api_client.post(
        reverse("token_obtain_pair"), {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == {"access", "refresh"}
    assert _get_me(api_client, response.json()["access"]).status_code == HTTPStatus.OK


def test_access_token_lifetime_is_five_minutes_by_default(api_client, user):
    response = api_client.post(
        reverse("token_obtain_pair"), {"username": "alice", "password": PASSWORD}, format="json"
    )

    access = AccessToken(response.json()["access"])
    assert access["exp"] - access["iat"] == timedelta(minutes=5).total_seconds()


def test_wrong_password_is_rejected_with_401(api_client, user):
    response = api_client.post(
        reverse("token_obtain_pair"), {"username": "alice", "password": "wrong"}, format="json"
    )

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "No active account found with the given credentials"}


def test_burst_of_failed_logins_from_one_client_gets_429(api_client, user):
    statuses = [
        api_client.post(
            reverse("token_obtain_pair"), {"username": "alice", "password": "wrong"}, format="json"
        ).status_code
        for _ in range(6)
    ]

    assert statuses == [HTTPStatus.UNAUTHORIZED] * 5 + [HTTPStatus.TOO_MANY_REQUESTS]


def test_login_throttle_does_not_block_other_clients(api_client, user):
    url = reverse("token_obtain_pair")
    for _ in range(6):
        api_client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="192.0.2.1")

    response = api_client.post(
        url, {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR="192.0.2.2"
    )

    assert response.status_code == HTTPStatus.OK


def test_login_throttle_behind_proxy_ignores_client_supplied_forwarded_for(
    api_client, user, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    url = reverse("token_obtain_pair")

    statuses = [
        api_client.post(
            url,
            {"username": "alice", "password": "wrong"},
            format="json",
            # The client forges the first entry; nginx appends the address it really saw.
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt}, 198.51.100.7",
        ).status_code
        for attempt in range(6)
    ]

    assert statuses[-1] == HTTPStatus.TOO_MANY_REQUESTS


def test_refresh_returns_new_access_and_rotated_refresh(api_client, tokens):
    response = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})

    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == {"access", "refresh"}
    assert response.json()["refresh"] != tokens["refresh"]


def test_reused_rotated_refresh_token_is_rejected_with_401(api_client, tokens):
    first = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})
    assert first.status_code == HTTPStatus.OK

    reuse = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})

    assert reuse.status_code == HTTPStatus.UNAUTHORIZED
    assert reuse.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}


def test_verify_accepts_valid_token(api_client, tokens):
    response = api_client.post(reverse("token_verify"), {"token": tokens["access"]})

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {}


def test_verify_rejects_tampered_token_with_401(api_client, tokens):
    header, payload, signature = tokens["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["user_id"] = str(int(claims["user_id"]) + 1)
    forged = f"{header}.{_b64(claims)}.{signature}"

    response = api_client.post(reverse("token_verify"), {"token": forged})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Token is invalid", "code": "token_not_valid"}


def test_blacklisted_refresh_token_cannot_be_used_after_logout(api_client, tokens):
    logout = api_client.post(reverse("token_blacklist"), {"refresh": tokens["refresh"]})
    assert logout.status_code == HTTPStatus.OK
    assert logout.json() == {}

    response = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}


def test_request_without_token_is_rejected_with_401(api_client, db):
    response = api_client.get(reverse("me"))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_access_token_is_rejected_with_401(api_client, user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=aware_utcnow() - timedelta(minutes=10))

    response = _get_me(api_client, str(token))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["messages"][0]["message"] == "Token is expired"


def test_access_token_with_tampered_signature_is_rejected_with_401(api_client, tokens):
    header, payload, signature = tokens["access"].split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"

    response = _get_me(api_client, tampered)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == TOKEN_NOT_VALID


def test_access_token_signed_with_another_key_is_rejected_with_401(api_client, tokens):
    claims = AccessToken(tokens["access"]).payload
    forged = jwt.encode(claims, "not-the-signing-key-" * 3, algorithm="HS256")

    response = _get_me(api_client, forged)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == TOKEN_NOT_VALID


def test_unsigned_alg_none_token_is_rejected_with_401(api_client, tokens):
    claims = AccessToken(tokens["access"]).payload
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    response = _get_me(api_client, unsigned)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == TOKEN_NOT_VALID


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_with_other_algorithm_than_configured_is_rejected_with_401(
    api_client, tokens, algorithm
):
    claims = AccessToken(tokens["access"]).payload
    other = jwt.encode(claims, settings.SECRET_KEY, algorithm=algorithm)

    response = _get_me(api_client, other)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == TOKEN_NOT_VALID


def test_refresh_token_is_not_accepted_as_access_token(api_client, tokens):
    response = _get_me(api_client, tokens["refresh"])

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["messages"][0]["message"] == "Token has wrong type"


def _change_password(user, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


def test_refresh_token_issued_before_a_password_change_is_refused(api_client, user, tokens):
    _change_password(user, "a-new-password-after-a-leak")

    response = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json() == {
        "detail": "The user's password has changed since this token was issued; log in again.",
        "code": "password_changed",
    }


def test_access_token_issued_before_a_password_change_is_refused(api_client, user, tokens):
    _change_password(user, "a-new-password-after-a-leak")

    assert _get_me(api_client, tokens["access"]).status_code == HTTPStatus.UNAUTHORIZED


def test_tokens_issued_after_a_password_change_work(api_client, user):
    _change_password(user, "a-new-password-after-a-leak")
    pair = api_client.post(
        reverse("token_obtain_pair"),
        {"username": "alice", "password": "a-new-password-after-a-leak"},
        format="json",
    ).json()

    refreshed = api_client.post(reverse("token_refresh"), {"refresh": pair["refresh"]})

    assert refreshed.status_code == HTTPStatus.OK
    assert _get_me(api_client, refreshed.json()["access"]).status_code == HTTPStatus.OK


def test_refresh_token_of_a_deleted_user_is_refused(api_client, user, tokens):
    user.delete()

    response = api_client.post(reverse("token_refresh"), {"refresh": tokens["refresh"]})

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "no_active_account"


def test_login_throttle_survives_a_flood_of_other_clients(api_client, user):
    # Django's default MAX_ENTRIES (300) would cull the first client's counter here.
    url = reverse("token_obtain_pair")
    wrong = {"username": "alice", "password": "wrong"}
    for _ in range(6):
        api_client.post(url, wrong, format="json", REMOTE_ADDR="192.0.2.1")
    for client in range(400):
        api_client.post(
            url, wrong, format="json", REMOTE_ADDR=f"198.51.{client // 250}.{client % 250 + 1}"
        )

    again = api_client.post(url, wrong, format="json", REMOTE_ADDR="192.0.2.1")

    assert again.status_code == HTTPStatus.TOO_MANY_REQUESTS
