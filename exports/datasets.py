"""The rows of each statement, read from the database (read-only), streamed in id order."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
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
from grants.grant.models import BudgetLine, Grant
from grants.payouts.models import Payout
from grants.reports.models import Attachment, ExpenseLine, Report
from grants.users.models import User
from workflows.labels import event_label, role_label, state_label

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


def code_label(code: str | None) -> str | None:
    """The label of a code that has no label table (budget categories, report and payout
    kinds): its words, capitalised, as the pages show them (``|capitalize``)."""
    return code.replace("_", " ").capitalize() if code else None


def action_label(action: str, subject_type: str) -> str:
    """An audit action's label, from the label table of the workflow its subject follows
    (a report's ``report_submit`` is the report workflow's ``submit``); other actions are
    named by their words (``event_label``'s own fallback)."""
    if subject_type == "report" and action.startswith("report_"):
        return event_label(action.removeprefix("report_"), "report")
    if subject_type == "payout":
        return event_label(action, "payout")
    return event_label(action, "grant")


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
    # The columns above are the statement's first layout (kept in place for its readers); the
    # label of the state follows them, then the request, the pilot's dates and its title's cap.
    Column("State (label)", TEXT, 22),
    Column("Requested", EUR, 14, total=True),
    Column("Pilot start", DATE, 12),
    Column("Pilot end", DATE, 12),
    # The title's figures repeat on each of its grants' rows: no totals (they would double).
    Column("Title cap", EUR, 14),
    Column("Title committed", EUR, 14),
    Column("Title available", EUR, 14),
)

BUDGET_COLUMNS = (
    Column("Grant id", INT, 10),
    Column("City", TEXT, 22),
    Column("Category", TEXT, 14),
    Column("Category (label)", TEXT, 14),
    Column("Budget lines", INT, 8),
    Column("Planned", EUR, 14, total=True),
)

PAYOUT_COLUMNS = (
    Column("Payout id", INT, 10),
    Column("Grant id", INT, 10),
    Column("City", TEXT, 22),
    Column("Kind", TEXT, 10),
    Column("State", TEXT, 11),
    Column("Amount", EUR, 14),
    Column("Kind (label)", TEXT, 10),
    Column("State (label)", TEXT, 11),
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
    Column("Report (label)", TEXT, 9),
    Column("Report state", TEXT, 11),
    Column("Report state (label)", TEXT, 11),
    Column("Invoice number", TEXT, 16),
    Column("Invoice date", DATE, 12),
    Column("Payment date", DATE, 12),
    Column("Supplier", TEXT, 24),
    Column("Description", TEXT, 36),
    Column("Category", TEXT, 13),
    Column("Category (label)", TEXT, 13),
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
    Column("Role (label)", TEXT, 16),
    Column("Action", TEXT, 20),
    Column("Action (label)", TEXT, 20),
    Column("From", TEXT, 16),
    Column("From (label)", TEXT, 16),
    Column("To", TEXT, 16),
    Column("To (label)", TEXT, 16),
    Column("Grant id", INT, 10),
    Column("Subject", TEXT, 18),
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
                Grant.requested_cents,
                Grant.start_date,
                Grant.end_date,
                Title.cap_cents,
                Title.committed_cents,
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
                state_label(r.state),
                r.requested_cents,
                r.start_date,
                r.end_date,
                r.cap_cents,
                r.committed_cents,
                r.cap_cents - r.committed_cents,
            )


def budget_rows(scope: Scope) -> Iterator[tuple]:
    """The planned budget of each grant per category (the sum of its budget lines)."""
    query = (
        select(
            Grant.id,
            City.name,
            BudgetLine.category,
            func.count(BudgetLine.id),
            func.sum(BudgetLine.amount_cents),
        )
        .join(Grant, BudgetLine.grant_id == Grant.id)
        .join(City, Grant.city_id == City.id)
        .where(_in_scope(Grant.id, scope))
        .group_by(Grant.id, City.name, BudgetLine.category)
        .order_by(Grant.id, BudgetLine.category)
        .execution_options(**STREAM)
    )
    for grant_id, city, category, lines, planned in db.session.execute(query):
        # int(): PostgreSQL sums a BIGINT as NUMERIC (a Decimal in Python).
        yield (grant_id, city, category, code_label(category), lines, int(planned))


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
            code_label(r.kind),
            state_label(r.state),
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
            code_label(r.kind),
            r.state,
            state_label(r.state),
            r.invoice_number,
            r.invoice_date,
            r.payment_date,
            r.supplier,
            r.description,
            r.category,
            code_label(r.category),
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


def _rate_event_ids(scope: Scope) -> list[int]:
    """The ``rate_set`` events of the rates the covered grants' expense lines were converted
    with: a line's rate is the one of its currency in the month its report was submitted (each
    submission's month, from the ``report_submit`` events), so every setting of a (month,
    currency) pair among those is included, later changes too."""
    currencies = set(
        db.session.scalars(
            select(ExpenseLine.currency)
            .join(Report, ExpenseLine.report_id == Report.id)
            .where(_in_scope(Report.grant_id, scope), ExpenseLine.currency != "EUR")
            .distinct()
        )
    )
    if not currencies:
        return []
    months = {
        at.strftime("%Y-%m")
        for at in db.session.scalars(
            select(AuditEvent.at).where(
                _in_scope(AuditEvent.grant_id, scope), AuditEvent.action == "report_submit"
            )
        )
    }
    months.update(
        at.strftime("%Y-%m")
        for at in db.session.scalars(
            select(Report.submitted_at).where(
                _in_scope(Report.grant_id, scope), Report.submitted_at.is_not(None)
            )
        )
    )
    # Rate settings are few (months × currencies): read them all and match here, which works
    # alike on every database (no JSON operators).
    return [
        event_id
        for event_id, data in db.session.execute(
            select(AuditEvent.id, AuditEvent.data)
            .where(AuditEvent.action == "rate_set", AuditEvent.subject_type == "exchange_rate")
            .order_by(AuditEvent.id)
        )
        if (data or {}).get("month") in months and (data or {}).get("currency") in currencies
    ]


def audit_rows(scope: Scope) -> Iterator[tuple]:
    """Every event of the covered grants and the settings of the rates their lines used."""
    covered = _in_scope(AuditEvent.grant_id, scope)
    rate_ids = _rate_event_ids(scope)
    query = (
        select(
            AuditEvent.id,
            AuditEvent.at,
            AuditEvent.actor_email,
            AuditEvent.actor_role,
            AuditEvent.action,
            AuditEvent.from_state,
            AuditEvent.to_state,
            AuditEvent.grant_id,
            AuditEvent.subject_type,
            AuditEvent.subject_id,
            AuditEvent.comment,
            AuditEvent.data,
        )
        .where(or_(covered, AuditEvent.id.in_(rate_ids)) if rate_ids else covered)
        .order_by(AuditEvent.id)
        .execution_options(**STREAM)
    )
    for r in db.session.execute(query):
        subject = r.subject_type if r.subject_id is None else f"{r.subject_type} {r.subject_id}"
        yield (
            r.id,
            r.at,
            r.actor_email,
            r.actor_role,
            role_label(r.actor_role) if r.actor_role else None,
            r.action,
            action_label(r.action, r.subject_type),
            r.from_state,
            state_label(r.from_state) if r.from_state else None,
            r.to_state,
            state_label(r.to_state) if r.to_state else None,
            r.grant_id,
            subject,
            r.comment,
            json.dumps(r.data, sort_keys=True, ensure_ascii=False) if r.data else None,
        )


def statement_sheets(scope: Scope) -> list[Sheet]:
    ids = _grant_ids(scope)
    return [
        Sheet("Summary", SUMMARY_COLUMNS, summary_rows(ids)),
        Sheet("Budget", BUDGET_COLUMNS, budget_rows(scope)),
        Sheet("Payouts", PAYOUT_COLUMNS, payout_rows(scope)),
        Sheet("Expenses", EXPENSE_COLUMNS, expense_rows(scope)),
        Sheet("Audit trail", AUDIT_COLUMNS, audit_rows(scope)),
    ]
