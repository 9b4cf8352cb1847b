"""Bank accounts of the cities: where the money goes, verified by four eyes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, in_list, utcnow
from workflows.bank_account import (
    DECISIONS,
    PENDING,
    REJECTED,
    STATES,
    SUPERSEDED,
    VERIFIED,
)

#: The states and events with their labels are workflows.bank_account's (one place); the
#: names are re-exported here for the package.
EVENTS = DECISIONS
__all__ = [
    "EVENTS",
    "PENDING",
    "REJECTED",
    "STATES",
    "SUPERSEDED",
    "VERIFIED",
    "BankAccount",
]


class BankAccount(Base):
    """One proposal of a city's bank account, and what became of it.

    At most one verified and at most one pending account per city: the services keep it under
    the city's row lock, and two partial unique indexes are the last line.
    """

    __tablename__ = "bank_accounts"
    __table_args__ = (
        CheckConstraint(in_list("state", STATES), name="state_known"),
        CheckConstraint(
            "verified_by_id IS NULL OR verified_by_id <> proposed_by_id", name="four_eyes"
        ),
        CheckConstraint("state <> 'verified' OR verified_by_id IS NOT NULL", name="verified_by"),
        CheckConstraint("state <> 'rejected' OR reject_comment IS NOT NULL", name="rejected_why"),
        Index(
            "uq_bank_accounts_one_verified",
            "city_id",
            unique=True,
            sqlite_where=text("state = 'verified'"),
            postgresql_where=text("state = 'verified'"),
        ),
        Index(
            "uq_bank_accounts_one_pending",
            "city_id",
            unique=True,
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    holder: Mapped[str] = mapped_column(String(200))
    #: Electronic form: no spaces, upper case (ISO 13616).
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[dt.datetime | None]
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rejected_at: Mapped[dt.datetime | None]
    reject_comment: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[dt.datetime | None]

    proposed_by = relationship("User", foreign_keys=[proposed_by_id], lazy="joined")
    verified_by = relationship("User", foreign_keys=[verified_by_id], lazy="joined")
    rejected_by = relationship("User", foreign_keys=[rejected_by_id], lazy="joined")
    city = relationship("City", lazy="joined")
