"""Users, their roles, API tokens, page sessions and mentor assignments."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, in_list, utcnow
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER, MENTOR, ROLES

STAFF_ROLES = (FINANCE_OFFICER, AUDITOR, ADMIN)

mentor_assignments = Table(
    "mentor_assignments",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("city_id", Integer, ForeignKey("cities.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role_known"),
        CheckConstraint(
            "(role = 'city_member') = (city_id IS NOT NULL)", name="city_only_for_members"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The IANA name of the zone the pages show this user's times in (``Europe/Riga``); none:
    #: the browser's zone (the pages are rendered in UTC and the browser rewrites the times).
    time_zone: Mapped[str | None] = mapped_column(String(64))

    city = relationship("City", foreign_keys=[city_id])
    mentor_cities = relationship("City", secondary=mentor_assignments, order_by="City.id")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def mentor_city_ids(self) -> list[int]:
        return [c.id for c in self.mentor_cities] if self.role == MENTOR else []

    def can_see_city_figures(self, city_id: int) -> bool:
        """Title money figures: staff, the city's mentors and the city's own members."""
        if self.is_staff:
            return True
        if self.role == CITY_MEMBER:
            return self.city_id == city_id
        return city_id in self.mentor_city_ids


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256; expiring and revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user = relationship(User)


class PageSession(Base):
    """A signed-in browser: the cookie holds a random id, this row only its SHA-256.

    Signing out revokes the row for good; a password change, a deactivation (or reactivation)
    and a role change revoke every row of the user (and every API token).
    """

    __tablename__ = "page_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    user = relationship(User)
