"""A title year: the programme budget all the titles of one year share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from grants.db import Base, utcnow


class TitleYear(Base):
    """The row of a title year: its programme budget (``None``: no budget set) and the row
    every raise of the year's committed money locks first (see ``grants.budget.services``).

    The committed money itself is not stored here: it is the sum of the counters of the year's
    titles (``titles.committed_cents``), the very figure the cap is guarded on.
    """

    __tablename__ = "title_years"
    __table_args__ = (
        CheckConstraint("budget_cents IS NULL OR budget_cents >= 0", name="budget_not_negative"),
    )

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    budget_cents: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def id(self) -> int:
        """The audit trail's subject id: the year itself."""
        return self.year


@dataclass(frozen=True)
class YearFigures:
    """The money of a title year, in cents: budget (``None``: no budget set), committed (the sum
    of the year's title counters: approved amounts of live grants, paid − recovered of ended
    ones), paid (advances and balances), recovered, and available (budget − committed)."""

    year: int
    budget: int | None
    committed: int
    paid: int
    recovered: int

    @property
    def available(self) -> int | None:
        return None if self.budget is None else self.budget - self.committed
