"""The rows of each statement, read from the database (read-only), streamed in id order."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from exports.workbooks import (
    AMOUNT,
    BOOL,
    DATE,
    DATETIME,
    EUR,
    INT,
    RATE,
    TEXT,
    Column,
    Sheet,
)
from grants.audit import AuditEvent
from grants.cities.models import City, Title
from grants.extensions import db
from grants.figures import figures_for
from grants.grant.models import Grant
from grants.payouts.models import Payout
from grants.reports.models import Attachment, ExpenseLine, Report
from grants.users.models import User

STREAM = {"yield_per": 2000}


@dataclass(frozen=True)
class Scope:
    """Which grants a statement covers."""

    kind: str
    label: str
    grant_query: Select[Any]


def scope_for(kind: str, params: dict[str, Any]) -> Scope:
    query = select(Grant.id).join(Title, Grant.title_id == Title.id)
    if kind == "grant_statement":
        query = query.where(Grant.id == params["grant_id"])
        label = f"grant-{params['grant_id']}"
    elif kind == "city_statement":
        query = query.where(Grant.city_id == params["city_id"], Title.year == params["title_year"])
        label = f"city-{params['city_id']}-{params['title_year']}"
    else:
        query = query.where(Title.year == params["title_year"])
        label = f"programme-{params['title_year']}"
    return Scope(kind, label, query.order_by(Grant.id))


SUMMARY_COLUMNS = (
    Column("Grant id", INT, 10),
    Column("City", TEXT, 22),
    Column("Country", TEXT, 9),
    Column("Title year", INT, 10),
    Column("Grant title", TEXT, 36),
    Column("State", TEXT, 16),
    Column("Approved", EUR, 14, total=True),
    Column("Paid", EUR, 14, total=True),
    Column("Recovered", EUR, 14, total=True),
    Column("Reported", EUR, 14, total=True),
    Column("Eligible", EUR, 14, total=True),
    Column("Balance due", EUR, 14, total=True),
    Column("Recovery due", EUR, 14, total=True),
)

PAYOUT_COLUMNS = (
    Column("Payout id", INT, 10),
    Column("Grant id", INT, 10),
    Column("City", TEXT, 22),
    Column("Kind", TEXT, 10),
    Column("State", TEXT, 11),
    Column("Amount", EUR, 14),
    Column("Paid out", EUR, 14, total=True),
    Column("Recovered", EUR, 14, total=True),
    Column("Authorised by", TEXT, 28),
    Column("Authorised at (UTC)", DATETIME, 20),
    Column("Confirmed by", TEXT, 28),
    Column("Confirmed at (UTC)", DATETIME, 20),
    Column("Paid on", DATE, 12),
    Column("Payment reference", TEXT, 22),
)

EXPENSE_COLUMNS = (
    Column("Line id", INT, 9),
    Column("Grant id", INT, 9),
    Column("City", TEXT, 20),
    Column("Report", TEXT, 9),
    Column("Report state", TEXT, 11),
    Column("Invoice number", TEXT, 16),
    Column("Invoice date", DATE, 12),
    Column("Payment date", DATE, 12),
    Column("Supplier", TEXT, 24),
    Column("Description", TEXT, 36),
    Column("Category", TEXT, 13),
    Column("Currency", TEXT, 9),
    Column("Amount", AMOUNT, 14),
    Column("VAT", AMOUNT, 12),
    Column("VAT recoverable", BOOL, 10),
    Column("Rate", RATE, 12),
    Column("EUR", EUR, 14, total=True),
    Column("Eligible EUR", EUR, 14, total=True),
    Column("Ineligibility reason", TEXT, 30),
    Column("Outside period", BOOL, 10),
    Column("Receipt SHA-256", TEXT, 66),
)

AUDIT_COLUMNS = (
    Column("Event id", INT, 10),
    Column("At (UTC)", DATETIME, 20),
    Column("Actor", TEXT, 28),
    Column("Role", TEXT, 16),
    Column("Grant id", INT, 10),
    Column("Action", TEXT, 20),
    Column("From", TEXT, 16),
    Column("To", TEXT, 16),
    Column("Comment", TEXT, 40),
    Column("Data", TEXT, 60),
)


def _grant_ids(scope: Scope) -> list[int]:
    return list(db.session.scalars(scope.grant_query))


def summary_rows(ids: Sequence[int]) -> Iterator[tuple]:
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = db.session.execute(
            select(
                Grant.id,
                City.name,
                City.country,
                Title.year,
                Grant.title,
                Grant.state,
                Grant.approved_cents,
            )
            .join(City, Grant.city_id == City.id)
            .join(Title, Grant.title_id == Title.id)
            .where(Grant.id.in_(chunk))
            .order_by(Grant.id)
        ).all()
        figures = figures_for((r.id, r.state, r.approved_cents) for r in rows)
        for r in rows:
            f = figures[r.id]
            yield (
                r.id,
                r.name,
                r.country,
                r.year,
                r.title,
                r.state,
                r.approved_cents or 0,
                f.paid,
                f.recovered,
                f.reported_eur,
                f.eligible_eur,
                f.balance_due,
                f.recovery_due,
            )


def _in_scope(column: Any, scope: Scope) -> Any:
    return column.in_(scope.grant_query.order_by(None).scalar_subquery())


def payout_rows(scope: Scope) -> Iterator[tuple]:
    authoriser, confirmer = aliased(User), aliased(User)
    query = (
        select(
            Payout.id,
            Payout.grant_id,
            City.name,
            Payout.kind,
            Payout.state,
            Payout.amount_cents,
            authoriser.email,
            Payout.authorised_at,
            confirmer.email,
            Payout.confirmed_at,
            Payout.paid_on,
            Payout.payment_reference,
        )
        .join(Grant, Payout.grant_id == Grant.id)
        .join(City, Grant.city_id == City.id)
        .join(authoriser, Payout.authorised_by_id == authoriser.id)
        .outerjoin(confirmer, Payout.confirmed_by_id == confirmer.id)
        .where(_in_scope(Payout.grant_id, scope))
        .order_by(Payout.id)
        .execution_options(**STREAM)
    )
    for r in db.session.execute(query):
        paid = r.state == "paid"
        yield (
            r[0],
            r[1],
            r[2],
            r.kind,
            r.state,
            r.amount_cents,
            r.amount_cents if paid and r.kind != "recovery" else 0,
            r.amount_cents if paid and r.kind == "recovery" else 0,
            r[6],
            r.authorised_at,
            r[8],
            r.confirmed_at,
            r.paid_on,
            r.payment_reference,
        )


def expense_rows(scope: Scope) -> Iterator[tuple]:
    receipts: dict[int, list[str]] = {}
    for expense_id, sha in db.session.execute(
        select(Attachment.expense_id, Attachment.sha256)
        .join(Report, Attachment.report_id == Report.id)
        .where(Attachment.expense_id.is_not(None), _in_scope(Report.grant_id, scope))
        .order_by(Attachment.id)
        .execution_options(**STREAM)
    ):
        receipts.setdefault(expense_id, []).append(sha)
    query = (
        select(
            ExpenseLine.id,
            Report.grant_id,
            City.name,
            Report.kind,
            Report.state,
            ExpenseLine.invoice_number,
            ExpenseLine.invoice_date,
            ExpenseLine.payment_date,
            ExpenseLine.supplier,
            ExpenseLine.description,
            ExpenseLine.category,
            ExpenseLine.currency,
            ExpenseLine.amount_cents,
            ExpenseLine.vat_cents,
            ExpenseLine.vat_recoverable,
            ExpenseLine.rate_micros,
            ExpenseLine.amount_eur_cents,
            ExpenseLine.eligible_eur_cents,
            ExpenseLine.adjusted_eligible_cents,
            ExpenseLine.ineligible_reason,
            Grant.start_date,
            Grant.end_date,
        )
        .join(Report, ExpenseLine.report_id == Report.id)
        .join(Grant, Report.grant_id == Grant.id)
        .join(City, Grant.city_id == City.id)
        .where(_in_scope(Report.grant_id, scope))
        .order_by(ExpenseLine.id)
        .execution_options(**STREAM)
    )
    for r in db.session.execute(query):
        counted = r.state in ("submitted", "accepted")
        eligible = None
        if r.state == "accepted":
            eligible = (
                r.adjusted_eligible_cents
                if r.adjusted_eligible_cents is not None
                else r.eligible_eur_cents
            )
        outside = any(
            d is not None and (d < r.start_date or d > r.end_date)
            for d in (r.invoice_date, r.payment_date)
        )
        yield (
            r.id,
            r.grant_id,
            r.name,
            r.kind,
            r.state,
            r.invoice_number,
            r.invoice_date,
            r.payment_date,
            r.supplier,
            r.description,
            r.category,
            r.currency,
            r.amount_cents,
            r.vat_cents,
            r.vat_recoverable,
            r.rate_micros,
            r.amount_eur_cents if counted else None,
            eligible,
            r.ineligible_reason,
            outside,
            " ".join(receipts.get(r.id, ())) or None,
        )


def audit_rows(scope: Scope) -> Iterator[tuple]:
    query = (
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor_email,
            AuditEvent.actor_role,
            AuditEvent.grant_id,
            AuditEvent.action,
            AuditEvent.from_state,
            AuditEvent.to_state,
            AuditEvent.comment,
            AuditEvent.data,
        )
        .where(_in_scope(AuditEvent.grant_id, scope))
        .order_by(AuditEvent.id)
        .execution_options(**STREAM)
    )
    for r in db.session.execute(query):
        yield (*r[:9], json.dumps(r.data, sort_keys=True, ensure_ascii=False) if r.data else None)


def statement_sheets(scope: Scope) -> list[Sheet]:
    ids = _grant_ids(scope)
    return [
        Sheet("Summary", SUMMARY_COLUMNS, summary_rows(ids)),
        Sheet("Payouts", PAYOUT_COLUMNS, payout_rows(scope)),
        Sheet("Expenses", EXPENSE_COLUMNS, expense_rows(scope)),
        Sheet("Audit trail", AUDIT_COLUMNS, audit_rows(scope)),
    ]
