"""Liveness and readiness probes for the deploy, systemd and load balancers.

/healthz answers from the process alone (no database), so a slow database never gets a healthy
worker restarted. /readyz answers 200 only when the database is reachable and every migration
is applied, so traffic moves to a release only once it can serve it.
"""

import logging
from http import HTTPStatus

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def pending_migrations(alias: str = DEFAULT_DB_ALIAS) -> int:
    """Number of migrations not yet applied; raises DatabaseError if the database is down."""
    connection = connections[alias]
    connection.ensure_connection()
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        pending = pending_migrations()
    except DatabaseError as exc:
        # The exception text can name hosts and users: log the class only, answer generically.
        logger.warning("readiness check failed: database unreachable (%s)", type(exc).__name__)
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable"},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    if pending:
        return JsonResponse(
            {"status": "unavailable", "database": "ok", "pending_migrations": pending},
            status=HTTPStatus.SERVICE_UNAVAILABLE,
        )
    return JsonResponse({"status": "ok", "database": "ok", "pending_migrations": 0})
