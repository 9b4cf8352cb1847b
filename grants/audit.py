"""The append-only, tamper-evident audit trail.

Every change of state, money or decision is recorded with its actor, in the same transaction as
the change. Events are chained: each stores the SHA-256 of its canonical content, which includes
the hash of the event before it. The chain is extended when the transaction commits, under a
lock (PostgreSQL: an advisory lock; SQLite: the write lock every transaction holds), so events
get consecutive ids in commit order. ``audit_head`` remembers the last link, so that removing
the newest event shows too. On PostgreSQL a trigger refuses UPDATE and DELETE of events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, Text, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from grants.db import Base, utcnow
from grants.extensions import db

if TYPE_CHECKING:
    from grants.users.models import User

GENESIS = "0" * 64
CHAIN_LOCK_KEY = 7_412_025  # the PostgreSQL advisory lock that serialises chain extension
_PENDING = "audit_pending"


class Action(StrEnum):
    """Every audit action name. The values are stored in the hash chain and returned by the
    history API: never change one, only add."""

    # grants: the workflow event's own name for a transition
    CREATE = "create"
    UPDATE = "update"
    COMMENT = "comment"
    SUBMIT = "submit"
    REQUEST_CHANGES = "request_changes"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    ADVANCE_PAID = "advance_paid"
    INTERIM_ACCEPTED = "interim_accepted"
    FINAL_ACCEPTED = "final_accepted"
    CLOSE = "close"
    TERMINATE = "terminate"
    # payouts
    PAYOUT_AUTHORISED = "payout_authorised"
    PAYOUT_PAID = "payout_paid"
    PAYOUT_CANCELLED = "payout_cancelled"
    # grant agreements (version 1 is issued inside the approve event)
    AGREEMENT_ISSUED = "agreement_issued"
    AGREEMENT_SIGNED = "agreement_signed"
    AGREEMENT_COUNTERSIGNED = "agreement_countersigned"
    # bank accounts of the cities
    BANK_ACCOUNT_PROPOSED = "bank_account_proposed"
    BANK_ACCOUNT_VERIFIED = "bank_account_verified"
    BANK_ACCOUNT_REJECTED = "bank_account_rejected"
    BANK_ACCOUNT_SUPERSEDED = "bank_account_superseded"
    # reports
    REPORT_CREATED = "report_created"
    REPORT_UPDATED = "report_updated"
    REPORT_SUBMIT = "report_submit"
    REPORT_RETURN = "report_return"
    REPORT_ACCEPT = "report_accept"
    EXPENSE_ADJUSTED = "expense_adjusted"
    RECEIPT_UPLOADED = "receipt_uploaded"
    # exports, reminders, rates, administration
    EXPORT_REQUESTED = "export_requested"
    EXPORT_DOWNLOADED = "export_downloaded"
    REMINDER_SENT = "reminder_sent"
    RATE_SET = "rate_set"
    BUDGET_SET = "budget_set"
    CITY_CREATED = "city_created"
    TITLE_AWARDED = "title_awarded"
    USER_CREATED = "user_created"
    USER_UPDATED = "user_updated"
    TOKEN_ISSUED = "token_issued"  # noqa: S105  # nosec B105


class AuditEvent(Base):
    __tablename__ = "audit_events"

    #: The event's place in the chain: 1, 2, 3, … in commit order, without gaps.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grants.id"), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Events about internal comments are not shown to city members.
    is_internal: Mapped[bool] = mapped_column(default=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    actor = relationship("User", lazy="joined")


class AuditHead(Base):
    """The newest link of the chain (one row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))


HASHED_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_email",
    "actor_role",
    "grant_id",
    "subject_type",
    "subject_id",
    "action",
    "from_state",
    "to_state",
    "comment",
    "data",
    "is_internal",
    "prev_hash",
)


def canonical(values: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers: every stored field but the hash itself."""
    content = {}
    for name in HASHED_FIELDS:
        value = values[name]
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def record(
    session: Any,
    *,
    actor: User | None,
    action: Action,
    subject_type: str,
    subject_id: int | None,
    grant_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
    is_internal: bool = False,
) -> AuditEvent:
    """Record one event; it joins the chain when the caller's transaction commits.

    The low-level form behind :func:`log`, which services call.
    """
    audit_event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        actor_role=actor.role if actor else None,
        grant_id=grant_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=Action(action).value,  # a plain str in the row and its hash, as ever
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=json.loads(json.dumps(data or {}, default=str)),
        is_internal=is_internal,
    )
    session.info.setdefault(_PENDING, []).append(audit_event)
    return audit_event


@dataclass(frozen=True)
class _Subject:
    """How an event names a model's row: its ``subject_type`` and the grant it belongs to."""

    type: str
    grant_id: Callable[[Any], int | None]
    is_internal: Callable[[Any], bool] = lambda obj: False


def _no_grant(obj: Any) -> None:
    return None


def _own_grant(obj: Any) -> int | None:
    return obj.grant_id


def _report_grant(obj: Any) -> int | None:
    # The report is in the session already (the caller holds it): an identity-map hit, no SQL.
    return obj.report.grant_id


#: Keyed by table name, so that this bottom layer needs no model import.
_SUBJECTS: dict[str, _Subject] = {
    "grants": _Subject("grant", lambda grant: grant.id),
    "comments": _Subject(
        "comment", _own_grant, is_internal=lambda comment: comment.visibility == "internal"
    ),
    "payouts": _Subject("payout", _own_grant),
    "grant_agreements": _Subject("agreement", _own_grant),
    "reports": _Subject("report", _own_grant),
    "expense_lines": _Subject("expense_line", _report_grant),
    "attachments": _Subject("attachment", _report_grant),
    "exports": _Subject("export", lambda export: export.params.get("grant_id")),
    "users": _Subject("user", _no_grant),
    "cities": _Subject("city", _no_grant),
    "titles": _Subject("title", _no_grant),
    "bank_accounts": _Subject("bank_account", _no_grant),
    "exchange_rates": _Subject("exchange_rate", _no_grant),
    "title_years": _Subject("title_year", _no_grant),
}


def log(
    action: Action,
    subject: Base,
    *,
    actor: User | None,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record ``action`` on ``subject`` (a flushed model row) in the current transaction.

    The subject's type, id and grant come from the row itself; an event about an internal
    comment is marked internal.
    """
    try:
        kind = _SUBJECTS[getattr(subject, "__tablename__", "")]
    except KeyError:
        raise TypeError(f"{type(subject).__name__} is not an audited subject") from None
    return record(
        db.session,
        actor=actor,
        action=action,
        subject_type=kind.type,
        subject_id=subject.id,  # type: ignore[attr-defined]
        grant_id=kind.grant_id(subject),
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data,
        is_internal=kind.is_internal(subject),
    )


@event.listens_for(Session, "before_commit")
def _extend_chain(session: Session) -> None:
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    # PostgreSQL: the head row's lock serialises extensions (SQLite holds its write lock since
    # BEGIN IMMEDIATE). Only while there is no head row yet, an advisory lock stands in for it.
    head = session.get(AuditHead, 1, populate_existing=True, with_for_update=postgres)
    if head is None and postgres:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
        head = session.get(AuditHead, 1, populate_existing=True, with_for_update=True)
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
    last_id, last_hash = head.last_id, head.last_hash
    for item in pending:
        last_id += 1
        item.id = last_id
        item.prev_hash = last_hash
        item.hash = last_hash = event_hash({n: getattr(item, n) for n in HASHED_FIELDS})
        session.add(item)
    head.last_id, head.last_hash = last_id, last_hash
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


def grant_history(session: Any, grant_id: int, *, include_internal: bool) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.grant_id == grant_id)
    if not include_internal:
        query = query.where(AuditEvent.is_internal.is_(False))
    return list(session.scalars(query.order_by(AuditEvent.id)))


@dataclass(frozen=True)
class Verdict:
    ok: bool
    checked: int
    message: str
    bad_id: int | None = None


def _rows(session: Any) -> Iterator[dict[str, Any]]:
    columns = [getattr(AuditEvent, n) for n in (*HASHED_FIELDS, "hash")]
    query = select(*columns).order_by(AuditEvent.id).execution_options(yield_per=2000)
    result = session.execute(query)
    try:
        for row in result:
            yield dict(row._mapping)
    finally:
        result.close()


def verify(session: Any) -> Verdict:
    """Walk the chain from the first event; name the first one that was altered or is missing."""
    with closing(_rows(session)) as rows:
        return _walk(session, rows)


def _walk(session: Any, rows: Iterator[dict[str, Any]]) -> Verdict:
    expected_id, prev = 1, GENESIS
    for row in rows:
        if row["id"] != expected_id:
            missing = row["id"] > expected_id
            what = f"event {expected_id} is missing" if missing else f"event {row['id']} repeats"
            return Verdict(False, expected_id - 1, what, expected_id)
        if row["prev_hash"] != prev:
            return Verdict(
                False,
                expected_id - 1,
                f"event {row['id']} does not follow event {row['id'] - 1} "
                "(removed, inserted or reordered)",
                row["id"],
            )
        if event_hash(row) != row["hash"]:
            return Verdict(
                False, expected_id - 1, f"event {row['id']} was altered (hash mismatch)", row["id"]
            )
        prev = row["hash"]
        expected_id += 1
    count = expected_id - 1
    head = session.get(AuditHead, 1)
    head_id, head_hash = (head.last_id, head.last_hash) if head else (0, GENESIS)
    if (head_id, head_hash) != (count, prev):
        return Verdict(
            False,
            count,
            f"the chain ends at event {count} but its head says event {head_id}: "
            "the newest events were removed or the head altered",
            count + 1 if head_id > count else head_id,
        )
    return Verdict(True, count, f"{count} events, chain intact, head {prev}")


def head(session: Any) -> tuple[int, str]:
    row = session.get(AuditHead, 1)
    return (row.last_id, row.last_hash) if row else (0, GENESIS)
