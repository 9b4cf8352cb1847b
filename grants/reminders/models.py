"""Report reminders sent, so that each is sent once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grants.db import Base, utcnow


class Reminder(Base):
    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("grant_id", "kind", "moment", name="uq_reminders_grant_kind_moment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # interim or final
    moment: Mapped[str] = mapped_column(String(16))  # before or overdue
    due_on: Mapped[dt.date]
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int]
