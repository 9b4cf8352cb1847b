"""The append-only audit trail: every change of state, money or decision, with its actor.

Events are written by the services in the same transaction as the change they record.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow

if TYPE_CHECKING:
    from grants.users.models import User


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
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

    actor = relationship("User", lazy="joined")


def record(
    session: Any,
    *,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: int | None,
    grant_id: int | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    comment: str | None = None,
    data: dict[str, Any] | None = None,
    is_internal: bool = False,
) -> AuditEvent:
    """Add one audit event to the session (the caller's transaction commits it)."""
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        actor_role=actor.role if actor else None,
        grant_id=grant_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        data=data or {},
        is_internal=is_internal,
    )
    session.add(event)
    return event


def grant_history(session: Any, grant_id: int, *, include_internal: bool) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.grant_id == grant_id)
    if not include_internal:
        query = query.where(AuditEvent.is_internal.is_(False))
    return list(session.scalars(query.order_by(AuditEvent.id)))
