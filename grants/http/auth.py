"""Who the caller is (bearer tokens) and the request wrapper of every API view.

Every API view is wrapped by :func:`endpoint`, which runs the checks in the order of api.md:
401 (token) → 404 (the object is outside the caller's scope) → 403 (the role may not) → 422
(the body, parsed by the schema decorator inside) → 409 (the service's guards). It also commits
the request's one transaction at the boundary and honours ``Idempotency-Key``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from typing import Any

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from grants import transaction
from grants.errors import Forbidden, Unauthorized
from grants.extensions import db
from grants.http import idempotency
from grants.users.credentials import token_digest
from grants.users.models import ApiToken, User


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
    blocks no writer (``grants.connections``); a deferred transaction that then writes
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
            if key is not None:  # an empty key is refused there, as the document says (1–255)
                return idempotency.run(user, key, lambda: view(*args, **kwargs))
            return _run(view, args, kwargs)

        return mark_writes(wrapper) if writes else wrapper

    return decorator


def _run(view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        response = view(*args, **kwargs)
    except BaseException:
        transaction.rollback()
        raise
    if request.method == "HEAD":  # a HEAD only looks: whatever the view wrote is undone
        transaction.rollback()
    else:
        transaction.commit()
    return response
