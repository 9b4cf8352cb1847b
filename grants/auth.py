"""Who the caller is (bearer tokens), what they may see (scope) and the request wrapper.

Every API view is wrapped by :func:`endpoint`, which runs the checks in the order of api.md:
401 (token) → 404 (the object is outside the caller's scope) → 403 (the role may not) → 422
(the body, parsed by the schema decorator inside) → 409 (the service's guards). It also commits
the request's one transaction at the boundary and honours ``Idempotency-Key``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from flask import current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager
from werkzeug.security import check_password_hash, generate_password_hash

from grants import idempotency
from grants.errors import AppError, Forbidden, Unauthorized
from grants.extensions import db
from grants.users.models import ApiToken, PageSession, User

TOKEN_BYTES = 32
# Compared against when the email is unknown, so that both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt:32768:8:1")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def verify_credentials(email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same work either way).

    Raises 429 while the account is locked after too many failures (see grants.lockout).
    """
    from grants import lockout

    found: list[User] = []

    def attempt() -> bool:
        user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
            return False
        if not check_password_hash(user.password_hash, password) or not user.is_active:
            return False
        found.append(user)
        return True

    return found[0] if lockout.guard(email, attempt) else None


def issue_token(user: User, *, now: dt.datetime | None = None) -> tuple[str, ApiToken]:
    """A new random token for ``user``; only its hash is stored."""
    now = now or dt.datetime.now(dt.UTC)
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    token = ApiToken(
        user=user,
        token_hash=token_digest(raw),
        created_at=now,
        expires_at=now + dt.timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]),
    )
    db.session.add(token)
    return raw, token


def open_page_session(user: User, *, now: dt.datetime | None = None) -> str:
    """A new server-side page session for ``user``: the random id for the cookie.

    Only its SHA-256 is stored; the caller commits.
    """
    raw = secrets.token_urlsafe(TOKEN_BYTES)
    row = PageSession(
        user_id=user.id, token_hash=token_digest(raw), created_at=now or dt.datetime.now(dt.UTC)
    )
    db.session.add(row)
    db.session.flush()
    return raw


def revoke_page_session(raw: str, *, now: dt.datetime | None = None) -> None:
    """End the page session whose cookie holds ``raw``, for good (the caller commits)."""
    db.session.execute(
        update(PageSession)
        .where(PageSession.token_hash == token_digest(raw), PageSession.revoked_at.is_(None))
        .values(revoked_at=now or dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )


def end_sessions(user: User, *, now: dt.datetime | None = None) -> None:
    """Revoke every API token and every page session of ``user``, for good.

    Called on a password change, a deactivation (and a reactivation) and a role change, in the
    caller's transaction: nothing issued before it works again, whatever happens to the user.
    """
    now = now or dt.datetime.now(dt.UTC)
    for model in (ApiToken, PageSession):
        db.session.execute(
            update(model)
            .where(model.user_id == user.id, model.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )


def authenticate() -> User:
    """The user of the request's bearer token, or 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized()
    # The token and its user in one statement (the user rides along, no lazy load).
    token = db.session.scalar(
        select(ApiToken)
        .join(ApiToken.user)
        .options(contains_eager(ApiToken.user))
        .where(ApiToken.token_hash == token_digest(raw.strip()))
    )
    now = dt.datetime.now(dt.UTC)
    if (
        token is None
        or token.revoked_at is not None
        or token.expires_at <= now
        or not token.user.is_active
    ):
        raise Unauthorized("The token is missing, invalid, expired or revoked.")
    g.user = token.user
    g.token = token
    return token.user


def current_user() -> User:
    return g.user


Loader = Callable[[User, dict[str, Any]], dict[str, Any]]
View = Callable[..., Any]


def mark_writes(view: View) -> View:
    """Mark a GET view that writes (e.g. records a download in the audit trail).

    On SQLite a GET or HEAD begins a deferred transaction, which takes no write lock and so
    blocks no writer (``grants.app._sqlite_begin``); a deferred transaction that then writes
    could fail with SQLITE_BUSY under contention, so a marked view takes the lock up front.
    """
    view.writes = True  # type: ignore[attr-defined]
    return view


def endpoint(
    *,
    roles: Iterable[str] | None = None,
    load: Loader | None = None,
    public: bool = False,
    idempotent: bool = False,
    writes: bool = False,
) -> Callable[[View], View]:
    """Wrap an API view: authenticate, load in scope, check the role, run, commit.

    ``load`` receives the user and the URL arguments and returns the keyword arguments for the
    view (e.g. ``{"grant": grant}``), raising 404 outside the user's scope. ``writes`` marks a
    GET that writes: it takes SQLite's write lock up front (see :func:`mark_writes`).
    """
    allowed = tuple(roles) if roles is not None else None

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = None if public else authenticate()
            if load is not None:
                kwargs = load(user, kwargs)
            if allowed is not None and user is not None and user.role not in allowed:
                raise Forbidden()
            key = request.headers.get("Idempotency-Key") if idempotent else None
            if key:
                return idempotency.run(user, key, lambda: view(*args, **kwargs))
            return _run(view, args, kwargs)

        return mark_writes(wrapper) if writes else wrapper

    return decorator


def _run(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        response = view(*args, **kwargs)
    except AppError:
        db.session.rollback()
        raise
    if request.method == "HEAD":  # a HEAD only looks: whatever the view wrote is undone
        db.session.rollback()
    else:
        db.session.commit()
    return response
