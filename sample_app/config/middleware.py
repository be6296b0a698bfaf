"""Request id and one JSON log line per request: method, path, status, duration, user id."""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

from config.logging import request_id_var

logger = logging.getLogger("sample_app.request")

# An incoming X-Request-ID (from nginx's $request_id, say) is kept when it is a plain token;
# anything else is replaced, so a client cannot inject text into the logs.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id(incoming: str) -> str:
    if _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _user_id(request: HttpRequest) -> int | None:
    """The authenticated user's id, without a database query of its own.

    DRF replaces request.user with the authenticated user; a lazy user nobody looked at (a
    /healthz request, say) stays unresolved rather than costing a session lookup.
    """
    user = getattr(request, "user", None)
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request.META.get("HTTP_X_REQUEST_ID", ""))
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.log(
                logging.ERROR if response.status_code >= 500 else logging.INFO,
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    # request.path has no query string: tokens in URLs stay out of the logs.
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": _user_id(request),
                },
            )
            return response
        finally:
            request_id_var.reset(token)
