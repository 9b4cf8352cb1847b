"""Exchange rates: set one, import a month's InforEuro CSV, look one up for a conversion."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from grants import audit
from grants.audit import Action
from grants.db import utcnow
from grants.errors import RateMissing, Unprocessable
from grants.extensions import db
from grants.rates.models import (
    CURRENCY_PATTERN,
    MONTH_PATTERN,
    RATE_SCALE,
    ExchangeRate,
    format_rate,
    parse_rate,
)
from grants.rates.policies import may_edit_rates
from grants.users.models import User


def set_rate(month: str, currency: str, micros: int, *, actor: User | None) -> ExchangeRate:
    """Create or replace the rate of ``currency`` for ``month``; the change is audited.

    ``actor`` is None for the command line and the demo data (trusted, no role to check).
    """
    if actor is not None:
        may_edit_rates(actor).enforce()
    if currency == "EUR" and micros != RATE_SCALE:
        raise Unprocessable.field("rate", "The rate of EUR is 1.")
    row = _locked(month, currency)
    if row is None:
        created = _insert_if_absent(month, currency, micros)
        row = _locked(month, currency)  # ours, or the one a concurrent request committed first
        if row is None:  # pragma: no cover - the row exists once the insert has returned
            raise RuntimeError(f"the rate of {currency} in {month} vanished")
        before = None if created else row.rate_micros
    else:
        before = row.rate_micros
    row.rate_micros = micros
    row.updated_at = utcnow()
    row.updated_by_id = actor.id if actor else None
    db.session.flush()
    if before != micros:
        audit.log(
            Action.RATE_SET,
            row,
            actor=actor,
            data={
                "month": month,
                "currency": currency,
                "from": format_rate(before),
                "to": format_rate(micros),
            },
        )
    return row


def _locked(month: str, currency: str) -> ExchangeRate | None:
    """The stored rate, its row locked until the transaction ends, freshly read."""
    return db.session.scalar(
        select(ExchangeRate)
        .where(ExchangeRate.month == month, ExchangeRate.currency == currency)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _insert_if_absent(month: str, currency: str, micros: int) -> bool:
    """Insert the rate unless (month, currency) is taken; True if this call inserted it.

    ``INSERT … ON CONFLICT DO NOTHING``: of concurrent first PUTs of one month and currency, one
    inserts and the others wait for it, then update the row it committed (never a 500).
    """
    dialect = db.session.get_bind().dialect.name
    insert: Any = {"postgresql": pg_insert, "sqlite": sqlite_insert}[dialect]
    inserted = db.session.scalar(
        insert(ExchangeRate)
        .values(month=month, currency=currency, rate_micros=micros, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["month", "currency"])
        .returning(ExchangeRate.id)
    )
    return inserted is not None


def list_rates(filters: dict[str, Any]) -> list[ExchangeRate]:
    query = select(ExchangeRate)
    if "month" in filters:
        query = query.where(ExchangeRate.month == filters["month"])
    if "currency" in filters:
        query = query.where(ExchangeRate.currency == filters["currency"])
    return list(db.session.scalars(query.order_by(ExchangeRate.month, ExchangeRate.currency)))


def rate_for(month: str, currency: str) -> int:
    """The rate (in millionths) of ``currency`` in ``month``; EUR is 1; else 409 rate_missing."""
    if currency == "EUR":
        return RATE_SCALE
    micros = db.session.scalar(
        select(ExchangeRate.rate_micros).where(
            ExchangeRate.month == month, ExchangeRate.currency == currency
        )
    )
    if micros is None:
        raise RateMissing(f"No exchange rate for {currency} in {month}: ask finance to set it.")
    return micros


def rates_for(month: str, currencies: Iterable[str]) -> dict[str, int]:
    """The rates of ``currencies`` in ``month`` (one query); 409 rate_missing naming all missing.

    "No exchange rate for DKK and SEK in 2026-11: finance has been told." (finance's dashboard
    lists the rates that reports wait for, see ``grants.reports.awaited``).
    """
    wanted = sorted(set(currencies) - {"EUR"})
    found = dict(
        db.session.execute(
            select(ExchangeRate.currency, ExchangeRate.rate_micros).where(
                ExchangeRate.month == month, ExchangeRate.currency.in_(wanted)
            )
        ).all()
    )
    missing = [c for c in wanted if c not in found]
    if missing:
        raise RateMissing(
            f"No exchange rate for {and_list(missing)} in {month}: finance has been told.",
            missing=[{"currency": c, "month": month} for c in missing],
        )
    return {**found, "EUR": RATE_SCALE}


def and_list(words: list[str]) -> str:
    """``["DKK", "NOK", "SEK"]`` → ``"DKK, NOK and SEK"``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def to_eur_cents(cents: int, micros: int) -> int:
    """``amount / rate`` in EUR cents, rounded half up: cents × 10⁶ / micros."""
    value = Decimal(cents) * RATE_SCALE / Decimal(micros)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def import_csv(lines: Iterable[str], *, actor: User | None) -> int:
    """Import ``month,currency,rate`` rows (a header row is allowed); all or nothing."""
    count = 0
    reader = csv.reader(lines)
    for number, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and row[0].strip().lower() == "month":
            continue
        if len(row) != 3:
            raise ValueError(f"line {number}: expected month,currency,rate")
        month, currency, rate = (cell.strip() for cell in row)
        currency = currency.upper()
        if not re.fullmatch(MONTH_PATTERN, month):
            raise ValueError(f"line {number}: month {month!r} is not YYYY-MM")
        if not re.fullmatch(CURRENCY_PATTERN, currency):
            raise ValueError(f"line {number}: currency {currency!r} is not an ISO 4217 code")
        try:
            micros = parse_rate(rate)
        except ValueError as exc:
            raise ValueError(f"line {number}: rate {rate!r}: {exc}") from exc
        if currency == "EUR" and micros != RATE_SCALE:
            # set_rate refuses it with a 422 for the API; the CLI reports a line, not a trace.
            raise ValueError(f"line {number}: the rate of EUR is 1, not {rate!r}")
        set_rate(month, currency, micros, actor=actor)
        count += 1
    return count
