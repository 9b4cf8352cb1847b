"""Sign-in protection: 10 failed attempts for an account within 15 minutes lock it for 5.

Counted in the database (``signin_lockouts``, one row per account), so that every worker and
host sees the same count and sign-in never depends on Redis. A failure takes the account's row
lock (an upsert: ``INSERT … ON CONFLICT DO UPDATE … RETURNING``) before it reads and writes the
count, so concurrent failures are counted one after the other: PostgreSQL makes the next one
wait for the row and then reads the committed count; SQLite holds its write lock already. A
failure is committed at once (the caller rolls back when it refuses the sign-in, and that must
not undo the count). The clock is injectable (``CLOCK``, seconds since the epoch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Float, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from grants import transaction
from grants.db import Base
from grants.errors import TooManyAttempts
from grants.extensions import db

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 5 * 60


class SigninLockout(Base):
    """An account's recent sign-in failures and its lock (``account`` is the email as typed,
    trimmed and lower-cased: unknown emails are counted too)."""

    __tablename__ = "signin_lockouts"

    account: Mapped[str] = mapped_column(String(254), primary_key=True)
    #: Times (epoch seconds) of the failures within the window, oldest first; at most 10.
    failures: Mapped[list[float]] = mapped_column(JSON)
    #: Epoch seconds until which sign-in is refused (0: not locked).
    locked_until: Mapped[float] = mapped_column(Float)


def _clock() -> float:
    return float(current_app.config.get("CLOCK", time.time)())


def locked_until(account: str) -> float:
    value = db.session.scalar(
        select(SigninLockout.locked_until).where(SigninLockout.account == account)
    )
    return float(value or 0.0)


def _take_row(account: str) -> tuple[list[float], float]:
    """Lock the account's row (creating it) and read it: the failures and the lock."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SigninLockout).values(account=account, failures=[], locked_until=0.0)
    stmt = stmt.on_conflict_do_update(
        index_elements=[SigninLockout.account],
        set_={"account": stmt.excluded.account},  # a no-op write: it takes the row lock
    ).returning(SigninLockout.failures, SigninLockout.locked_until)
    failures, until = db.session.execute(stmt).one()
    return [float(t) for t in failures or []], float(until or 0.0)


def fail(account: str, now: float) -> int:
    """Count a failure; lock the account at the 10th within the window. Returns the count."""
    failures, _ = _take_row(account)
    recent = [t for t in failures if t > now - WINDOW_SECONDS][-(MAX_FAILURES - 1) :]
    recent.append(now)
    values: dict[str, Any] = {"failures": recent}
    if len(recent) >= MAX_FAILURES:
        values = {"failures": [], "locked_until": now + LOCK_SECONDS}
    db.session.execute(
        update(SigninLockout).where(SigninLockout.account == account).values(**values)
    )
    return len(recent)


def reset(account: str, now: float) -> None:
    """Forget the failures after a success (a lock set meanwhile by a concurrent failure stays)."""
    db.session.execute(
        delete(SigninLockout).where(
            SigninLockout.account == account, SigninLockout.locked_until <= now
        )
    )


def guard(account: str, attempt: Callable[[], bool]) -> bool:
    """Run a sign-in ``attempt`` for ``account`` unless it is locked; count its failures.

    Returns the attempt's result; raises 429 while the account is locked. A success clears the
    count in the caller's transaction; a failure is committed here.
    """
    account = account.strip().lower()[:254]
    now = _clock()
    until = locked_until(account)
    if until > now:
        minutes = max(1, -(-int(until - now) // 60))  # rounded up: never "0 minutes"
        raise TooManyAttempts(
            "Too many failed sign-in attempts: try again in "
            f"{minutes} minute{'s' if minutes != 1 else ''}."
        )
    if attempt():
        reset(account, now)
        return True
    fail(account, now)
    transaction.commit()
    return False
