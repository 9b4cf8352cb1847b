"""Monthly exchange rates (InforEuro): units of a currency per 1 EUR, six decimals at most."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from grants.db import Base, utcnow

RATE_SCALE = 1_000_000  # rates are stored as integer millionths: no float, no rounding
RATE_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,6})?$"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def parse_rate(value: Any) -> int:
    """``"7.4604"`` → 7460400 millionths; a string > 0 with at most 6 decimals, nothing else."""
    if not isinstance(value, str) or not re.fullmatch(RATE_PATTERN, value):
        raise ValueError('Must be a decimal string with at most 6 decimals, like "7.4604".')
    whole, _, fraction = value.partition(".")
    micros = int(whole) * RATE_SCALE + int((fraction or "0").ljust(6, "0"))
    if micros <= 0:
        raise ValueError("Must be greater than zero.")
    return micros


def format_rate(micros: int | None) -> str | None:
    if micros is None:
        return None
    whole, fraction = divmod(micros, RATE_SCALE)
    digits = f"{fraction:06d}".rstrip("0").ljust(4, "0")
    return f"{whole}.{digits}"


class ExchangeRate(Base):
    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("month", "currency", name="uq_exchange_rates_month_currency"),
        CheckConstraint("rate_micros > 0", name="rate_positive"),
        CheckConstraint("length(currency) = 3", name="currency_iso"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    currency: Mapped[str] = mapped_column(String(3))
    rate_micros: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
