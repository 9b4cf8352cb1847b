"""Payouts: advances and balances paid to a city, recoveries it pays back."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, in_list, utcnow
from workflows.payout import KINDS, STATES


class Payout(Base):
    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint(in_list("kind", KINDS), name="kind_known"),
        CheckConstraint(in_list("state", STATES), name="state_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "confirmed_by_id IS NULL OR confirmed_by_id <> authorised_by_id", name="four_eyes"
        ),
        CheckConstraint(
            "state <> 'paid' OR (paid_on IS NOT NULL AND confirmed_by_id IS NOT NULL)",
            name="paid_confirmed",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="authorised")
    authorised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    authorised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[dt.datetime | None]
    paid_on: Mapped[dt.date | None]
    payment_reference: Mapped[str | None] = mapped_column(String(200))
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[dt.datetime | None]
    cancel_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    #: A copy of the city's verified bank account in force at authorisation (outgoing payouts):
    #: the money goes there, and confirming is refused if the city's account changed since.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_accounts.id"))
    account_holder: Mapped[str | None] = mapped_column(String(200))
    account_iban: Mapped[str | None] = mapped_column(String(34))
    account_bic: Mapped[str | None] = mapped_column(String(11))

    authorised_by = relationship("User", foreign_keys=[authorised_by_id], lazy="joined")
    confirmed_by = relationship("User", foreign_keys=[confirmed_by_id], lazy="joined")
    grant = relationship("Grant", lazy="joined")

    __mapper_args__ = {"version_id_col": version}
