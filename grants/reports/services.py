"""Reports: file, edit, submit (with currency conversion), return, accept (with adjustments)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from grants import audit
from grants.audit import Action
from grants.db import today, utcnow
from grants.errors import (
    Forbidden,
    InvalidTransition,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from grants.extensions import db
from grants.grant.models import Grant
from grants.grant.services import (
    interim_due_on,
    transition_grant,
)
from grants.lifecycle import fire_and_record, precheck
from grants.money import MAX_CENTS, format_money
from grants.rates.services import rates_for, to_eur_cents
from grants.reports.integrity import warnings_of
from grants.reports.models import Attachment, ExpenseLine, Report
from grants.reports.policies import (
    FILED_IN,
    may_edit_report,
    may_file_report,
    may_upload_receipt,
)
from grants.reports.receipts import clean_file_name, sniff
from grants.users.models import User
from workflows.report import FINAL, INTERIM, REPORT

#: The event the acceptance of each kind of report fires (FILED_IN: the state it is filed in).
FIRES = {INTERIM: "interim_accepted", FINAL: "final_accepted"}
#: The audit action of each report event.
REPORT_ACTIONS = {
    "submit": Action.REPORT_SUBMIT,
    "return": Action.REPORT_RETURN,
    "accept": Action.REPORT_ACCEPT,
}


def list_reports(grant: Grant) -> list[Report]:
    return list(
        db.session.scalars(select(Report).where(Report.grant_id == grant.id).order_by(Report.id))
    )


def due_on(grant: Grant, kind: str) -> dt.date:
    if kind == INTERIM:
        return interim_due_on(grant)
    return grant.end_date + dt.timedelta(days=current_app.config["FINAL_REPORT_DUE_DAYS"])


def _set_expenses(report: Report, lines: list[dict[str, Any]]) -> None:
    report.expenses = [
        ExpenseLine(
            position=i,
            invoice_number=line["invoice_number"],
            invoice_date=line["invoice_date"],
            payment_date=line.get("payment_date"),
            supplier=line["supplier"],
            description=line["description"],
            category=line["category"],
            currency=line["currency"],
            amount_cents=line["amount"],
            vat_cents=line.get("vat_amount", 0),
            vat_recoverable=line.get("vat_recoverable", False),
        )
        for i, line in enumerate(lines, start=1)
    ]


def _expense_snapshot(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "invoice_number": e.invoice_number,
            "supplier": e.supplier,
            "currency": e.currency,
            "amount": format_money(e.amount_cents),
            "vat_amount": format_money(e.vat_cents),
            "vat_recoverable": e.vat_recoverable,
        }
        for e in report.expenses
    ]


def create_report(grant: Grant, data: dict[str, Any], *, actor: User) -> Report:
    kind = data["kind"]
    may_file_report(grant, kind, actor).enforce()
    report = Report(
        grant_id=grant.id,
        kind=kind,
        state=REPORT.initial,
        narrative=data.get("narrative") or {},
        created_by_id=actor.id,
    )
    _set_expenses(report, data.get("expenses") or [])
    db.session.add(report)
    db.session.flush()
    audit.log(
        Action.REPORT_CREATED,
        report,
        actor=actor,
        to_state=report.state,
        data={"report_id": report.id, "kind": kind, "expenses": _expense_snapshot(report)},
    )
    return report


def update_report(report: Report, data: dict[str, Any], *, actor: User) -> Report:
    may_edit_report(report, actor).enforce()
    changed: dict[str, Any] = {}
    if "narrative" in data and data["narrative"] != report.narrative:
        report.narrative = data["narrative"]
        changed["narrative"] = True
    if "expenses" in data:
        before = _expense_snapshot(report)
        _set_expenses(report, data["expenses"])
        changed["expenses"] = {"from": before, "to": _expense_snapshot(report)}
    if not changed:  # an empty PATCH (or the same narrative again) changes and records nothing
        return report
    db.session.flush()
    audit.log(
        Action.REPORT_UPDATED,
        report,
        actor=actor,
        from_state=report.state,
        to_state=report.state,
        data={"report_id": report.id, "kind": report.kind, **changed},
    )
    return report


def transition_report(report: Report, data: dict[str, Any], *, actor: User) -> Report:
    event = data["event"]
    _row, comment = precheck(REPORT, event, actor.role, data.get("comment"), what="reports")
    if data.get("adjustments") and event != "accept":
        raise Unprocessable.field("adjustments", "Adjustments are given when accepting.")
    REPORT.check(event, report.state, actor.role)
    grant = db.session.get(Grant, report.grant_id, with_for_update={"of": Grant})
    audit_data: dict[str, Any] = {"report_id": report.id, "kind": report.kind}
    if event == "submit":
        if grant.state != FILED_IN[report.kind]:
            raise InvalidTransition(
                f"The grant is {grant.state}: an {report.kind} report cannot be submitted now."
            )
        _convert(report, today().strftime("%Y-%m"))
        report.submitted_at = utcnow()
        total_eur = sum(e.amount_eur_cents or 0 for e in report.expenses)
        if total_eur > MAX_CENTS:  # the money maximum bounds every EUR figure of a grant
            raise Unprocessable.field(
                "expenses", f"The expenses total more than {format_money(MAX_CENTS)} EUR."
            )
        audit_data["total_eur"] = format_money(total_eur)
        audit_data["eligible_eur"] = format_money(
            sum(e.eligible_eur_cents or 0 for e in report.expenses)
        )
        found = warnings_counted(report, grant)
        if found:  # how many of each, never which other line (the city reads its history)
            audit_data["warnings"] = found
    elif event == "accept":
        adjustments = _adjust(report, data.get("adjustments") or [], actor=actor)
        report.accepted_at = utcnow()
        audit_data["adjustments"] = adjustments
        audit_data["eligible_eur"] = format_money(
            sum(e.accepted_eligible_cents for e in report.expenses)
        )
    fire_and_record(
        REPORT,
        report,
        event,
        actor=actor,
        action=REPORT_ACTIONS[event],
        comment=comment,
        data=audit_data,
    )
    if event == "accept":
        transition_grant(
            grant,
            FIRES[report.kind],
            actor=actor,
            cause={"cause": "report_accept", "report_id": report.id},
        )
    return report


def warnings_counted(report: Report, grant: Grant) -> dict[str, int]:
    """How many lines of ``report`` have each kind of integrity warning."""
    counts: dict[str, int] = {}
    for warnings in warnings_of(report.expenses, grant).values():
        for kind in sorted({w.kind for w in warnings}):
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _convert(report: Report, month: str) -> None:
    """Convert every line with the rate of ``month`` and freeze the rate on it (all or nothing)."""
    rates = rates_for(month, {e.currency for e in report.expenses})
    for line in report.expenses:
        micros = rates[line.currency]
        line.rate_micros = micros
        line.amount_eur_cents = to_eur_cents(line.amount_cents, micros)
        line.vat_eur_cents = to_eur_cents(line.vat_cents, micros)
        line.eligible_eur_cents = line.amount_eur_cents - (
            line.vat_eur_cents if line.vat_recoverable else 0
        )
        line.adjusted_eligible_cents = None
        line.ineligible_reason = None


def _adjust(report: Report, adjustments: list[dict[str, Any]], *, actor: User) -> list[dict]:
    lines = {e.id: e for e in report.expenses}
    errors: dict[str, dict[str, list[str]]] = {}
    seen: set[int] = set()
    for i, adj in enumerate(adjustments):
        line = lines.get(adj["expense_id"])
        if line is None:
            errors[str(i)] = {"expense_id": ["Not an expense line of this report."]}
        elif adj["expense_id"] in seen:
            errors[str(i)] = {"expense_id": ["Adjusted twice."]}
        elif adj["eligible_eur"] > (line.eligible_eur_cents or 0):
            errors[str(i)] = {
                "eligible_eur": [
                    f"Must not exceed the line's eligible EUR, "
                    f"{format_money(line.eligible_eur_cents or 0)}."
                ]
            }
        seen.add(adj["expense_id"])
    if errors:
        raise Unprocessable(errors={"json": {"adjustments": errors}})
    done = []
    for adj in adjustments:
        line = lines[adj["expense_id"]]
        line.adjusted_eligible_cents = adj["eligible_eur"]
        line.ineligible_reason = adj["reason"]
        entry = {
            "expense_id": line.id,
            "invoice_number": line.invoice_number,
            "eligible_eur_before": format_money(line.eligible_eur_cents),
            "eligible_eur": format_money(adj["eligible_eur"]),
            "reason": adj["reason"],
        }
        audit.log(
            Action.EXPENSE_ADJUSTED,
            line,
            actor=actor,
            comment=adj["reason"],
            data={"report_id": report.id, **entry},
        )
        done.append(entry)
    return done


# ---------------------------------------------------------------------------------------------
# Receipts


def add_attachment(
    report: Report, file_name: str, content: bytes, *, expense_id: int | None, actor: User
) -> Attachment:
    verdict = may_upload_receipt(report, actor)
    if isinstance(verdict.refusal, Forbidden):
        verdict.enforce()  # the role (403) before the file's own refusals
    limit = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    if len(content) > limit:
        raise PayloadTooLarge(f"The file is larger than {current_app.config['MAX_UPLOAD_MB']} MB.")
    if not content:
        raise Unprocessable.field("file", "The file is empty.", "files")
    content_type = sniff(content)
    if content_type is None:
        raise UnsupportedMediaType(
            "Receipts are accepted as PDF, PNG, JPEG or an e-signature container "
            "(.asice, .bdoc, .edoc); this file's content is none of them."
        )
    verdict.enforce()  # the report's state (409) after them
    if expense_id is not None and expense_id not in {e.id for e in report.expenses}:
        raise Unprocessable.field("expense_id", "Not an expense line of this report.", "form")
    _check_receipt_caps(report, len(content))
    name = clean_file_name(file_name)
    attachment = Attachment(
        report_id=report.id,
        expense_id=expense_id,
        file_name=name,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by_id=actor.id,
        content=content,
    )
    db.session.add(attachment)
    db.session.flush()
    audit.log(
        Action.RECEIPT_UPLOADED,
        attachment,
        actor=actor,
        data={
            "report_id": report.id,
            "expense_id": expense_id,
            "file_name": name,
            "size": attachment.size,
            "sha256": attachment.sha256,
        },
    )
    return attachment


def _check_receipt_caps(report: Report, size: int) -> None:
    """Refuse a receipt beyond the report's count or the grant's bytes (settings).

    The report's row is locked by the caller (``for_update``); the grant's row is locked here,
    after it, in the order the report transitions take, so that concurrent uploads to either
    report of a grant count each other's receipts.
    """
    db.session.get(Grant, report.grant_id, with_for_update={"of": Grant})
    most = current_app.config["MAX_RECEIPTS_PER_REPORT"]
    count = db.session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.report_id == report.id)
    )
    if count >= most:
        raise InvalidTransition(
            f"This report has {count} receipts, the most one report takes ({most}): "
            "join several scans into one PDF before uploading more."
        )
    budget_mb = current_app.config["MAX_RECEIPT_MB_PER_GRANT"]
    used = int(
        db.session.scalar(
            select(func.coalesce(func.sum(Attachment.size), 0))
            .join(Report, Attachment.report_id == Report.id)
            .where(Report.grant_id == report.grant_id)
        )
    )
    if used + size > budget_mb * 1024 * 1024:
        raise PayloadTooLarge(
            f"The receipts of one grant may take {budget_mb} MB together: this grant's "
            f"receipts take {_megabytes(used)} MB and this file ({_megabytes(size)} MB) does "
            "not fit. Scan at a lower resolution, or ask the programme team."
        )


def _megabytes(size: int) -> str:
    tenths = (size * 10 + 1024 * 1024 - 1) // (1024 * 1024)  # rounded up, no floats
    return f"{tenths // 10}.{tenths % 10}"


def outside_period(line: ExpenseLine, grant: Grant) -> bool:
    dates = [d for d in (line.invoice_date, line.payment_date) if d is not None]
    return any(d < grant.start_date or d > grant.end_date for d in dates)
