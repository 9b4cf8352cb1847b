"""A report as the API shows it: its lines with what was accepted, and its files."""

from __future__ import annotations

from typing import Any

from grants.reports.integrity import (
    OUTSIDE_PERIOD,
    SAME_INVOICE,
    SAME_RECEIPT,
    SAME_SUPPLIER_DATE_AMOUNT,
    Warning,
    warnings_of,
)
from grants.reports.models import Attachment, Report
from grants.reports.policies import may_see_other_lines
from grants.reports.services import due_on, outside_period
from grants.users.models import User
from workflows.report import REPORT


def report_out(report: Report, user: User) -> dict[str, Any]:
    grant = report.grant
    by_line: dict[int | None, list[Attachment]] = {}
    for a in report.attachments:
        by_line.setdefault(a.expense_id, []).append(a)
    submitted = report.state in ("submitted", "accepted")
    warnings = warnings_of(report.expenses, grant)
    staff = may_see_other_lines(user)
    return {
        "id": report.id,
        "grant_id": report.grant_id,
        "kind": report.kind,
        "state": report.state,
        "narrative": report.narrative,
        "due_on": due_on(grant, report.kind),
        "submitted_at": report.submitted_at,
        "accepted_at": report.accepted_at,
        "expenses": [
            {
                **{c: getattr(e, c) for c in _LINE_FIELDS},
                "eligible_eur": e.accepted_eligible_cents if submitted else None,
                "outside_period": outside_period(e, grant),
                "attachments": by_line.get(e.id, []),
                "warnings": [warning_out(w, staff) for w in warnings.get(e.id, [])],
            }
            for e in report.expenses
        ],
        "attachments": by_line.get(None, []),
        "total_eur": sum(e.amount_eur_cents or 0 for e in report.expenses) if submitted else None,
        "eligible_eur": sum(e.accepted_eligible_cents for e in report.expenses)
        if submitted
        else None,
        "available_events": REPORT.available(report.state, [user.role]),
    }


def warning_out(warning: Warning, staff: bool) -> dict[str, Any]:
    """A warning as shown: the other line's ids for staff only (a city never learns them)."""
    out: dict[str, Any] = {"kind": warning.kind, "text": warning_text(warning)}
    if staff and warning.other_expense_id is not None:
        out["other_expense_id"] = warning.other_expense_id
        out["other_report_id"] = warning.other_report_id  # for the pages' link; not in the API
    if warning.other_line is not None:
        out["other_line"] = warning.other_line
    return out


_WARNING_TEXTS = {
    SAME_RECEIPT: "The same receipt file is on another expense line",
    SAME_INVOICE: "Another expense line has the same supplier and invoice number",
    SAME_SUPPLIER_DATE_AMOUNT: "Another expense line has the same supplier, date and amount",
    OUTSIDE_PERIOD: "Dated outside the pilot period",
}
_WARNING_TEXTS_IN_FORM = {
    SAME_INVOICE: "Line {n} has the same supplier and invoice number",
    SAME_SUPPLIER_DATE_AMOUNT: "Line {n} has the same supplier, date and amount",
}


def warning_text(warning: Warning) -> str:
    """A warning in words, for the pages (the API gives the kind)."""
    if warning.other_line is not None and warning.kind in _WARNING_TEXTS_IN_FORM:
        return _WARNING_TEXTS_IN_FORM[warning.kind].format(n=warning.other_line) + "."
    return _WARNING_TEXTS[warning.kind] + "."


_LINE_FIELDS = (
    "id",
    "invoice_number",
    "invoice_date",
    "payment_date",
    "supplier",
    "description",
    "category",
    "currency",
    "amount_cents",
    "vat_cents",
    "vat_recoverable",
    "rate_micros",
    "amount_eur_cents",
    "eligible_eur_cents",
    "ineligible_reason",
)
