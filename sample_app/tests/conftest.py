import io
import logging
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from config.logging import JsonFormatter

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Throttle counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., AbstractUser]:
    def make(username: str = "alice", password: str = PASSWORD, **fields: object) -> AbstractUser:
        return get_user_model().objects.create_user(
            username=username, password=password, email=f"{username}@example.org", **fields
        )

    return make


@pytest.fixture
def user(make_user: Callable[..., AbstractUser]) -> AbstractUser:
    return make_user()


@pytest.fixture
def tokens(user: AbstractUser) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@pytest.fixture
def auth_client(api_client: APIClient, tokens: dict[str, str]) -> APIClient:
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return api_client


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted exactly as production writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous_level)
