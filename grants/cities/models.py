"""Cities and their titles, with the per-title counter that guards the cap."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, utcnow


class City(Base):
    __tablename__ = "cities"
    __table_args__ = (
        CheckConstraint("length(country) = 2", name="country_alpha2"),
        CheckConstraint("population IS NULL OR population >= 0", name="population_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    population: Mapped[int | None]
    is_capital: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    titles: Mapped[list[Title]] = relationship(
        back_populates="city", order_by="Title.valid_from", lazy="selectin"
    )

    def title_on(self, day: dt.date) -> Title | None:
        """The title whose validity covers ``day`` (titles of one city never overlap)."""
        for title in self.titles:
            if title.valid_from <= day <= title.valid_until:
                return title
        return None


class Title(Base):
    """The BSR Cultural Pearls title of a city for one title year.

    ``committed_cents`` is the running total the cap is guarded on; it always equals the sum
    the programme's rules define (approved amounts of live grants, and paid − recovered of
    ended ones), and the CHECK keeps it within the cap whatever a bug might try.
    """

    __tablename__ = "titles"
    __table_args__ = (
        UniqueConstraint("city_id", "year", name="uq_titles_city_year"),
        CheckConstraint("valid_from <= valid_until", name="validity_ordered"),
        CheckConstraint("cap_cents > 0", name="cap_positive"),
        CheckConstraint("committed_cents >= 0", name="committed_not_negative"),
        CheckConstraint("committed_cents <= cap_cents", name="committed_within_cap"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id"), index=True)
    year: Mapped[int]
    valid_from: Mapped[dt.date]
    valid_until: Mapped[dt.date]
    cap_cents: Mapped[int] = mapped_column(BigInteger)
    committed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    city: Mapped[City] = relationship(back_populates="titles")

    @property
    def available_cents(self) -> int:
        return self.cap_cents - self.committed_cents

    def covers(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.valid_until
