"""Credentials: password hashes, sign-in checks, API tokens and page sessions.

Only hashes are stored: scrypt for passwords, SHA-256 for random tokens and session ids.
The caller owns the transaction, except that a failed sign-in is committed at once (its count,
see grants.lockout, must outlive the refusal).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from grants import lockout
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

    Raises 429 while the account is locked after too many failures (see grants.lockout); a
    failure is counted in the database and committed before None is returned.
    """
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
