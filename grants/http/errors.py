"""Errors as answers: the JSON shape of api.md for the API, HTML error pages for the pages.

``{code, status, message, errors?, reason?}``; no stack trace ever leaves. A dependency that is
down (Redis refusing or timing out, the database's connection lost or refused) is a 503 with
``Retry-After`` and the dependency named in the message, never a 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from grants.errors import (
    AlreadyTaken,
    AppError,
    Stale,
    Unprocessable,
    is_contention,
    is_unique_violation,
)
from grants.http.web import html_error, is_api_path
from workflows import RoleNotAllowed, TransitionNotAllowed

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait (``Retry-After``) while a dependency is down.
RETRY_AFTER_SECONDS = 30
UNAVAILABLE = {
    "database": "The database is unavailable at the moment: please try again shortly.",
    "queue": "The job queue (Redis) is unavailable at the moment: please try again shortly.",
}
# PostgreSQL: connection exceptions (class 08), the server shutting down or starting up, too
# many connections. SQLite: the file cannot be opened, read or written.
_PG_DOWN = ("08", "57P01", "57P02", "57P03", "53300")
_SQLITE_DOWN = {"SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_NOTADB"}


def unavailable(exc: BaseException) -> str | None:
    """The dependency that is down when ``exc`` says so (``database`` or ``queue``), else None.

    Contention (a lock wait, SQLite's "database is locked") is not an outage: it is 409
    ``stale`` and checked first by :func:`to_body`.
    """
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "queue"
    if isinstance(exc, DisconnectionError | PoolTimeout):
        return "database"
    if isinstance(exc, OperationalError):
        if exc.connection_invalidated:
            return "database"
        orig = exc.orig
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate is not None:
            return "database" if str(sqlstate).startswith(_PG_DOWN) else None
        name = getattr(orig, "sqlite_errorname", None)
        if name is not None:
            return "database" if name in _SQLITE_DOWN else None
        return "database"  # the driver failed before the server answered: refused, reset
    return None


def error_body(
    code: int,
    message: str,
    *,
    errors: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "status": HTTPStatus(code).phrase,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    if reason:
        body["reason"] = reason
    return body


def to_body(exc: BaseException) -> tuple[dict[str, Any], int]:
    """The JSON body and status for any exception (never a trace)."""
    if isinstance(exc, AppError):
        return error_body(exc.code, exc.message, errors=exc.errors, reason=exc.reason), exc.code
    if isinstance(exc, RoleNotAllowed):
        return error_body(403, str(exc)), 403
    if isinstance(exc, TransitionNotAllowed):
        return error_body(409, str(exc), reason="invalid_transition"), 409
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if code == 422:
            return error_body(422, Unprocessable.message, errors=messages), 422
        if code == 400 and messages:
            return error_body(400, "The request body is not valid JSON."), 400
        return error_body(code, exc.description or HTTPStatus(code).phrase), code
    if is_contention(exc):
        return error_body(409, Stale.message, reason="stale"), 409
    if is_unique_violation(exc):
        return error_body(409, AlreadyTaken.message, reason="conflict"), 409
    dependency = unavailable(exc)
    if dependency is not None:
        return error_body(503, UNAVAILABLE[dependency]), 503
    return error_body(500, "An unexpected error occurred; it has been logged."), 500


def _log(exc: BaseException, code: int) -> None:
    if code == 503:
        log.warning("dependency down on %s %s: %r", request.method, request.path, exc)
    elif code >= 500:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)


def json_error(exc: BaseException) -> Response:
    body, code = to_body(exc)
    _log(exc, code)
    response = jsonify(body)
    response.status_code = code
    if code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, HTTPException) and code == 405:
        allow = exc.get_headers().__iter__()
        for name, value in allow:
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def any_error(exc: BaseException) -> Response:
    """JSON for the API and ``/healthz``; an HTML error page for the pages (same status)."""
    if is_api_path(request.path):
        return json_error(exc)
    body, code = to_body(exc)
    _log(exc, code)
    if code == 503:
        return unavailable_page(body["message"])
    return html_error(exc, body, code)


def unavailable_page(message: str) -> Response:
    """The 503 page: what is down, and when to try again (no database needed to draw it)."""
    heading = "Temporarily unavailable"
    try:
        html = render_template(
            "errors/error.html",
            code=503,
            heading=heading,
            message=message,
            reason=None,
            status=HTTPStatus(503).phrase,
        )
    except Exception:  # the page's layout may need what is down: a bare page then
        log.debug("503 page drawn without its layout", exc_info=True)
        html = (
            f'<!doctype html><html lang="en"><title>503 {heading}</title>'
            f"<h1>{heading}</h1><p>{message}</p></html>"
        )
    response = Response(html, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def register_error_handlers(app: Flask) -> None:
    """JSON errors for the API, HTML error pages for the pages (see ``any_error``)."""
    app.register_error_handler(AppError, any_error)
    app.register_error_handler(RoleNotAllowed, any_error)
    app.register_error_handler(TransitionNotAllowed, any_error)
    app.register_error_handler(HTTPException, any_error)
    app.register_error_handler(Exception, any_error)
