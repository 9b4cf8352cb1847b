"""The exchange rates that reports are waiting for: what finance is told to set.

A report waits for the rate of a currency when it could be submitted now (a draft or returned
report of a grant in the state its kind is filed in) and one of its lines is in that currency,
with no rate for the current month, the month its submission converts with. The list is read
from the reports themselves, so it is never stale: it empties as finance sets the rates, and a
refused submission ("No exchange rate for DKK and SEK in 2026-11: finance has been told.") needs
nothing written to be on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, or_, select

from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from grants.rates.models import ExchangeRate
from grants.reports.models import ExpenseLine, Report
from grants.reports.policies import FILED_IN
from workflows.report import EDITABLE


@dataclass
class AwaitedRate:
    """A rate not set yet, and the reports whose submission waits for it."""

    currency: str
    month: str
    reports: list[Report] = field(default_factory=list)


def rates_awaited(on: dt.date | None = None) -> list[AwaitedRate]:
    """The missing rates of this month that submittable reports need, by currency."""
    month = (on or today()).strftime("%Y-%m")
    rate_known = exists().where(
        ExchangeRate.month == month, ExchangeRate.currency == ExpenseLine.currency
    )
    rows = db.session.execute(
        select(ExpenseLine.currency, Report.id)
        .join(Report, ExpenseLine.report_id == Report.id)
        .join(Grant, Report.grant_id == Grant.id)
        .where(
            ExpenseLine.currency != "EUR",
            Report.state.in_(EDITABLE),
            or_(*(and_(Report.kind == k, Grant.state == s) for k, s in FILED_IN.items())),
            ~rate_known,
        )
        .distinct()
        .order_by(ExpenseLine.currency, Report.id)
    ).all()
    ids = sorted({report_id for _, report_id in rows})
    reports = {r.id: r for r in db.session.scalars(select(Report).where(Report.id.in_(ids)))}
    out: dict[str, AwaitedRate] = {}
    for currency, report_id in rows:
        out.setdefault(currency, AwaitedRate(currency, month)).reports.append(reports[report_id])
    return list(out.values())
