"""``GET /healthz``: is the service up, and which of its dependencies answer.

Public, no sign-in. 200 while the database answers (``"status": "ok"``, or ``"degraded"`` when
Redis is set but down: sign-in and the pages work, only what needs the queue answers 503), 503
with ``Retry-After`` and ``"status": "down"`` when the database is down. The body keeps the
fields of api.md (``database``; ``queue``: ``ok``, ``inline`` without Redis, or ``down``) and
adds ``status`` and ``checks``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy import text

from grants.extensions import db
from grants.http.errors import RETRY_AFTER_SECONDS
from grants.queue import redis_ok

log = logging.getLogger(__name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means down; the reason is logged
        log.exception("health check: database down")
        return False
    finally:
        try:
            db.session.rollback()
        except Exception:  # a dead connection may refuse even the rollback
            log.debug("health check: rollback failed", exc_info=True)


def healthz() -> Any:
    """The service is up: the database answers, and Redis (when it is configured)."""
    database = "ok" if database_ok() else "down"
    if current_app.config["REDIS_URL"]:
        redis = "ok" if redis_ok() else "down"
    else:
        redis = "not configured"
    status = "down" if database == "down" else "degraded" if redis == "down" else "ok"
    body = {
        "status": status,
        "checks": {"database": database, "redis": redis},
        "database": database,
        "queue": {"ok": "ok", "down": "down"}.get(redis, "inline"),
    }
    response = jsonify(body)
    if database == "down":
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


ENDPOINTS = ("healthz", "api_healthz")


def _answer_first() -> Response | None:
    """``before_request``, ahead of every other: the health check needs no other per-request
    work, and a hook that touches the database (when it is down) must not keep it from saying
    so."""
    return healthz() if request.endpoint in ENDPOINTS else None


def register_health(app: Flask, api_prefix: str) -> None:
    """At the root, and also under the API's prefix (api.md allows both)."""
    app.add_url_rule("/healthz", ENDPOINTS[0], healthz)
    app.add_url_rule(f"{api_prefix}/healthz", ENDPOINTS[1], healthz)
    app.before_request_funcs.setdefault(None, []).insert(0, _answer_first)
