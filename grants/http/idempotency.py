"""Safe retries: ``Idempotency-Key`` on payouts and transitions (api.md, "Retries").

A key is scoped to (user, method, path) and kept 24 hours. The first request claims the key in
its own short transaction; its response (success or refusal) is stored with the key in the same
transaction as the change it made, so a replay returns exactly what the first request returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from grants import transaction
from grants.db import Base, utcnow
from grants.errors import AppError, IdempotencyInProgress, IdempotencyMismatch, Unprocessable
from grants.extensions import db
from grants.http.errors import json_error
from grants.users.models import User
from workflows.errors import WorkflowError

log = logging.getLogger(__name__)

KEEP = dt.timedelta(hours=24)
#: A key is 1 to 255 printable ASCII characters (no space, no control character, no NUL: a
#: PostgreSQL text column refuses NUL, and a key is echoed in logs and compared byte for byte).
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "method", "path", "key", name="uq_idempotency_keys_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    response_status: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_headers: Mapped[str | None] = mapped_column(String(2000))


def _request_hash() -> str:
    data = request.get_json(silent=True)
    raw = (
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        if data is not None
        else request.get_data(cache=True)
    )
    return hashlib.sha256(raw).hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body, status=row.response_status, mimetype="application/json")
    for name, value in json.loads(row.response_headers or "{}").items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def run(user: User, key: str, call: Callable[[], Any]) -> Response:
    """Run ``call`` once for this key; replay its stored response on a retry.

    The change and its stored answer are committed together, so a retry finds either both or
    neither. A claim whose request never answered (its worker was killed, or the database went
    away at its commit, and the key could not be forgotten then) is released after
    ``IDEMPOTENCY_ABANDONED_SECONDS``: nothing of it was committed, so the retry runs afresh.
    """
    if not KEY_RE.fullmatch(key):
        raise Unprocessable.field(
            "Idempotency-Key", "Must be 1 to 255 printable ASCII characters (no spaces).", "headers"
        )
    session = db.session
    digest = _request_hash()
    scope = {"user_id": user.id, "method": request.method, "path": request.path, "key": key}
    now = dt.datetime.now(dt.UTC)
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP))
    row = IdempotencyKey(request_hash=digest, created_at=now, **scope)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if not _release_abandoned(scope, now):
            return _existing(scope, digest, IdempotencyMismatch, IdempotencyInProgress)
        row = IdempotencyKey(request_hash=digest, created_at=now, **scope)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # another retry took the released key first
            session.rollback()
            return _existing(scope, digest, IdempotencyMismatch, IdempotencyInProgress)
    row_id = row.id

    try:
        try:
            response = current_app.make_response(call())
        except (AppError, WorkflowError) as exc:
            # A refusal (wrong state or role included) is the answer to replay, not a crash.
            session.rollback()
            response = json_error(exc)
        else:
            if response.status_code >= 500:
                raise _Unanswered()
        _store(session, row_id, response)
        session.commit()  # the change and its answer, or neither
    except BaseException as exc:
        transaction.rollback()
        _forget(row_id)
        if isinstance(exc, _Unanswered):
            return response
        raise
    transaction.commit()  # nothing left to write: what waited for the commit runs
    return response


class _Unanswered(Exception):
    """A 5xx answer: the key is forgotten, so that a retry runs afresh."""


def _forget(row_id: int) -> None:
    """Drop the claim of a request that did not answer; if the database is gone, the claim is
    released later as abandoned."""
    try:
        # Only a claim without an answer: if the commit that failed did reach the database,
        # the answer is there and a retry replays it (never runs the change twice).
        db.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == row_id, IdempotencyKey.response_status.is_(None)
            )
        )
        db.session.commit()
    except Exception:  # the database may be the reason the request failed
        db.session.rollback()
        log.warning("idempotency key %s left claimed: released when abandoned", row_id)


def _release_abandoned(scope: dict[str, Any], now: dt.datetime) -> bool:
    """Release this key if its claim has no answer and is older than the abandon delay."""
    limit = now - dt.timedelta(seconds=current_app.config["IDEMPOTENCY_ABANDONED_SECONDS"])
    released = db.session.execute(
        delete(IdempotencyKey).where(
            *(getattr(IdempotencyKey, name) == value for name, value in scope.items()),
            IdempotencyKey.response_status.is_(None),
            IdempotencyKey.created_at < limit,
        )
    ).rowcount
    db.session.commit()
    return bool(released)


def _store(session: Any, row_id: int, response: Response) -> None:
    row = session.get(IdempotencyKey, row_id)
    row.response_status = response.status_code
    row.response_body = response.get_data()
    headers = {k: v for k, v in response.headers.items() if k in ("Location",)}
    row.response_headers = json.dumps(headers)


def _existing(
    scope: dict[str, Any], digest: str, mismatch: type[Exception], in_progress: type[Exception]
) -> Response:
    deadline = time.monotonic() + current_app.config["IDEMPOTENCY_WAIT_SECONDS"]
    query = select(IdempotencyKey).filter_by(**scope).execution_options(populate_existing=True)
    while True:
        row = db.session.scalar(query)
        if row is None:
            db.session.rollback()
            raise in_progress()
        if row.request_hash != digest:
            db.session.rollback()
            raise mismatch()
        if row.response_status is not None:
            response = _replay(row)
            db.session.rollback()
            return response
        db.session.rollback()
        if time.monotonic() >= deadline:
            raise in_progress()
        time.sleep(0.05)
