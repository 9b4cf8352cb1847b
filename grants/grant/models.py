"""Pilot grants and their budget lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from grants.db import Base, in_list, utcnow
from workflows.grant import CLOSED, FINAL_REPORTED, STATES, TERMINATED

CATEGORIES = (
    "services",
    "venue",
    "materials",
    "equipment",
    "travel",
    "fees",
    "communication",
    "other",
)


class Grant(Base):
    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint(in_list("state", STATES), name="state_known"),
        CheckConstraint("start_date <= end_date", name="dates_ordered"),
        CheckConstraint("requested_cents >= 0", name="requested_not_negative"),
        CheckConstraint(
            "approved_cents IS NULL OR (approved_cents > 0 AND approved_cents <= requested_cents)",
            name="approved_within_requested",
        ),
        CheckConstraint(
            "payout_cents >= 0 AND payout_cents <= COALESCE(approved_cents, 0)",
            name="payouts_within_approved",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    title_id: Mapped[int] = mapped_column(ForeignKey("titles.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    state: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    requested_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    approved_cents: Mapped[int | None] = mapped_column(BigInteger)
    #: Advances and balances authorised or paid: guarded like the cap (never above approved).
    payout_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    city = relationship("City", lazy="joined", innerjoin=True)
    title_award = relationship("Title", lazy="joined", innerjoin=True)
    budget_lines: Mapped[list[BudgetLine]] = relationship(
        back_populates="grant",
        order_by="BudgetLine.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    #: Money figures loaded with the grant, in the same statement, by ``figures.with_figures()``
    #: (None when the query did not ask for them: ``figures.grant_figures`` then queries).
    loaded_paid_cents: Mapped[int | None] = query_expression()
    loaded_recovered_cents: Mapped[int | None] = query_expression()
    loaded_reported_cents: Mapped[int | None] = query_expression()
    loaded_eligible_cents: Mapped[int | None] = query_expression()

    __mapper_args__ = {"version_id_col": version}

    @property
    def title_year(self) -> int:
        return self.title_award.year


class BudgetLine(Base):
    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint(in_list("category", CATEGORIES), name="category_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(500))
    amount_cents: Mapped[int] = mapped_column(BigInteger)

    grant: Mapped[Grant] = relationship(back_populates="budget_lines")


#: States in which what is owed either way is known (the final report is in, or the grant ended).
SETTLING = (FINAL_REPORTED, CLOSED, TERMINATED)
#: The events decided on the grant's money: its figures are loaded for them.
SETTLING_EVENTS = ("close", "terminate")


@dataclass(frozen=True)
class GrantFigures:
    state: str
    approved: int
    paid: int
    recovered: int
    reported_eur: int
    eligible_eur: int

    @property
    def cost(self) -> int:
        """What the grant cost the programme: paid − recovered."""
        return self.paid - self.recovered

    @property
    def balance_due(self) -> int:
        """What the programme still owes the city once the final report is accepted."""
        if self.state not in (FINAL_REPORTED, CLOSED):
            return 0
        return max(0, min(self.approved, self.eligible_eur) - self.paid)

    @property
    def recovery_due(self) -> int:
        """What the city owes back: paid − accepted eligible, less what it returned already."""
        if self.state not in SETTLING:
            return 0
        return max(0, self.paid - self.eligible_eur - self.recovered)
