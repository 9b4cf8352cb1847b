"""Comments on a grant: shared with the city, or internal to staff and mentors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow

VISIBILITIES = ("shared", "internal")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("visibility IN ('shared', 'internal')", name="visibility_known"),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime | None]

    author = relationship("User", lazy="joined")
