"""Errors as answers: the JSON shape of api.md for the API, HTML error pages for the pages.

``{code, status, message, errors?, reason?}``; no stack trace ever leaves.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, request
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
    return error_body(500, "An unexpected error occurred; it has been logged."), 500


def json_error(exc: BaseException) -> Response:
    body, code = to_body(exc)
    if code >= 500:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    response = jsonify(body)
    response.status_code = code
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
    if code >= 500:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return html_error(exc, body, code)


def register_error_handlers(app: Flask) -> None:
    """JSON errors for the API, HTML error pages for the pages (see ``any_error``)."""
    app.register_error_handler(AppError, any_error)
    app.register_error_handler(RoleNotAllowed, any_error)
    app.register_error_handler(TransitionNotAllowed, any_error)
    app.register_error_handler(HTTPException, any_error)
    app.register_error_handler(Exception, any_error)
