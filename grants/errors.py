"""The project's errors, each with its HTTP status and (for refusals) a stable reason.

Services raise these; the app-level handlers turn them, and every other error, into the one
JSON shape of api.md: ``{code, status, message, errors?, reason?}``. No stack trace ever leaves.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from workflows import RoleNotAllowed, TransitionNotAllowed

log = logging.getLogger(__name__)


class AppError(Exception):
    code = 400
    reason: str | None = None
    message = "The request cannot be processed."

    def __init__(
        self, message: str | None = None, *, errors: dict[str, Any] | None = None, **data: Any
    ):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.errors = errors
        self.data = data


class Unauthorized(AppError):
    code = 401
    message = "Sign in first: a valid bearer token is required."


class Forbidden(AppError):
    code = 403
    message = "Your role may not do this."


class NotFound(AppError):
    code = 404
    message = "Not found."


class Unprocessable(AppError):
    code = 422
    message = "The request is not valid: see errors."

    @classmethod
    def field(cls, name: str, text: str, location: str = "json") -> Unprocessable:
        return cls(errors={location: {name: [text]}})


class PayloadTooLarge(AppError):
    code = 413
    message = "The file is too large."


class UnsupportedMediaType(AppError):
    code = 415
    message = "This type of file is not accepted."


class TooManyAttempts(AppError):
    code = 429
    message = "Too many failed sign-in attempts: try again later."


class Conflict(AppError):
    code = 409
    reason = "invalid_transition"
    message = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    reason = "invalid_transition"


class CapExceeded(Conflict):
    reason = "cap_exceeded"
    message = "The amount exceeds what is left of the title's seed money."


class CityNotEligible(Conflict):
    reason = "city_not_eligible"
    message = "The city is not eligible for seed money now."


class FourEyes(Conflict):
    reason = "four_eyes"
    message = (
        "A payout must be confirmed by another finance officer than the one who authorised it."
    )


class RateMissing(Conflict):
    reason = "rate_missing"
    message = "No exchange rate is known for a currency in the submission month."


class OverApproved(Conflict):
    reason = "over_approved"
    message = "The amount exceeds what was requested or what remains of the approved amount."


class MoneyOwed(Conflict):
    reason = "money_owed"
    message = "Money is still owed: the grant cannot be closed."


class NotReady(Conflict):
    reason = "not_ready"
    message = "The file is not ready yet."


class IdempotencyMismatch(Conflict):
    reason = "idempotency_mismatch"
    message = "This Idempotency-Key was used with another request body."


class IdempotencyInProgress(Conflict):
    reason = "idempotency_in_progress"
    message = "The first request with this Idempotency-Key is still running: retry later."


class Stale(Conflict):
    reason = "stale"
    message = "A concurrent change won or a lock wait timed out: retry."


class AlreadyTaken(Conflict):
    reason = "conflict"
    message = "A unique value is already taken (for example an e-mail address): choose another."


class TitleOverlap(Conflict):
    reason = "title_overlap"
    message = "The city already holds a title whose validity overlaps this one."


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


def is_contention(exc: BaseException) -> bool:
    """A lost race or a lock wait that ran out: the client should retry (409 stale)."""
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # serialization_failure, deadlock_detected, lock_not_available, query_canceled (timeout)
        return sqlstate in {"40001", "40P01", "55P03", "57014"}
    return False


def is_unique_violation(exc: BaseException) -> bool:
    """A concurrent request took the same unique value first (the pre-check could not see it)."""
    if not isinstance(exc, IntegrityError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # unique_violation, exclusion_violation (PostgreSQL); SQLite names the constraint kind.
    return sqlstate in {"23505", "23P01"} or "UNIQUE constraint failed" in str(exc.orig)


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
    from grants.web import html_error, is_api_path

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
