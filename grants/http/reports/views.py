"""Pages of reports: file and edit them with expense lines, upload receipts, submit, verify."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from grants import scope
from grants.errors import NotFound
from grants.grant.models import CATEGORIES
from grants.http.reports import presenters
from grants.http.reports.api import UploadFormSchema
from grants.http.reports.schemas import (
    ReportCreateSchema,
    ReportPatchSchema,
    ReportTransitionSchema,
)
from grants.http.web import (
    act,
    as_int,
    done,
    drop_blank,
    indexed_rows,
    line_rows,
    me,
    page,
    require_role,
    run_form,
)
from grants.money import format_money, typed_amount
from grants.reports import receipts, services
from grants.reports.policies import may_edit_report, may_upload_receipt
from grants.scope import get_grant
from workflows.grant import CITY_MEMBER
from workflows.report import KINDS, REPORT

bp = Blueprint("reports_pages", __name__)

EXPENSE_FIELDS = (
    "invoice_number",
    "invoice_date",
    "payment_date",
    "supplier",
    "description",
    "category",
    "currency",
    "amount",
    "vat_amount",
    "vat_recoverable",
)
NARRATIVE_FIELDS = (
    ("activities", "Activities", "What was done, when and where."),
    ("participants", "Participants", "Who took part, and how many."),
    (
        "community_connections",
        "Community connections",
        "What changed for the connections in the community.",
    ),
    ("cooperation", "Cooperation", "Who you worked with, in the city and beyond."),
    ("trust", "Trust", "What the pilot did for trust and resilience."),
)
CURRENCIES = ("EUR", "DKK", "SEK", "PLN", "NOK", "ISK")


def _expense_data(row: dict[str, str]) -> dict[str, Any]:
    amounts = {k: typed_amount(row[k]) for k in ("amount", "vat_amount") if k in row}
    data: dict[str, Any] = drop_blank(
        {k: v for k, v in {**row, **amounts}.items() if k != "vat_recoverable"},
        optional_none=("payment_date",),
    )
    if "currency" in data:
        data["currency"] = data["currency"].upper()
    data["vat_recoverable"] = row.get("vat_recoverable") == "y"
    return data


def _report_data() -> tuple[dict[str, Any], list[dict[str, str]]]:
    narrative = {name: request.form.get(name, "").strip() for name, _, _ in NARRATIVE_FIELDS}
    lines = line_rows(request.form, "expenses", EXPENSE_FIELDS)
    return {"narrative": narrative, "expenses": [_expense_data(r) for r in lines]}, lines


def _line_op() -> list[dict[str, str]] | None:
    rows = indexed_rows(request.form, "expenses", EXPENSE_FIELDS)
    op = request.form.get("op", "")
    if op == "add_line":
        return [*rows.values(), {}]
    if op.startswith("remove_line:"):
        index = as_int(op.split(":", 1)[1])
        return [row for i, row in rows.items() if i != index]
    return None


def _render_form(
    grant: Any, report: Any, kind: str, narrative: dict, lines: list, errors: dict, status: int
) -> Any:
    return (
        render_template(
            "reports/form.html",
            grant=grant,
            report=report,
            kind=kind,
            narrative=narrative,
            lines=lines or [{}],
            errors=errors,
            narrative_fields=NARRATIVE_FIELDS,
            categories=CATEGORIES,
            currencies=CURRENCIES,
        ),
        status,
    )


@bp.route("/grants/<int:grant_id>/reports/new", methods=["GET", "POST"])
@page()
def new_report(grant_id: int) -> Any:
    user = me()
    grant = get_grant(user, grant_id, for_update=request.method == "POST")
    require_role(CITY_MEMBER)
    kind = request.values.get("kind", "")
    if kind not in KINDS:
        abort(404)
    if request.method == "GET":
        return _render_form(grant, None, kind, {}, [{}], {}, 200)
    lines = _line_op()
    narrative = {name: request.form.get(name, "") for name, _, _ in NARRATIVE_FIELDS}
    if lines is not None:
        return _render_form(grant, None, kind, narrative, lines, {}, 200)
    data, shown = _report_data()
    report, errors, status = run_form(
        lambda: services.create_report(
            grant, ReportCreateSchema().load({"kind": kind, **data}), actor=user
        )
    )
    if status == 200:
        done(f"The {kind} report is saved as a draft. Add the receipts, then submit it.")
        return redirect(url_for("reports_pages.report", report_id=report.id))
    return _render_form(grant, None, kind, narrative, shown, errors, status)


@bp.route("/reports/<int:report_id>/edit", methods=["GET", "POST"])
@page()
def edit_report(report_id: int) -> Any:
    user = me()
    report = scope.get_report(user, report_id, for_update=request.method == "POST")
    require_role(CITY_MEMBER)
    grant = report.grant
    may_edit_report(report, user).enforce()
    if request.method == "GET":
        lines = [
            {
                "invoice_number": e.invoice_number,
                "invoice_date": e.invoice_date.isoformat(),
                "payment_date": e.payment_date.isoformat() if e.payment_date else "",
                "supplier": e.supplier,
                "description": e.description,
                "category": e.category,
                "currency": e.currency,
                "amount": format_money(e.amount_cents),
                "vat_amount": format_money(e.vat_cents),
                "vat_recoverable": "y" if e.vat_recoverable else "",
            }
            for e in report.expenses
        ]
        return _render_form(grant, report, report.kind, report.narrative, lines, {}, 200)
    lines = _line_op()
    narrative = {name: request.form.get(name, "") for name, _, _ in NARRATIVE_FIELDS}
    if lines is not None:
        return _render_form(grant, report, report.kind, narrative, lines, {}, 200)
    data, shown = _report_data()
    _, errors, status = run_form(
        lambda: services.update_report(report, ReportPatchSchema().load(data), actor=user)
    )
    if status == 200:
        done("Report saved.")
        return redirect(url_for("reports_pages.report", report_id=report.id))
    return _render_form(grant, report, report.kind, narrative, shown, errors, status)


def _render_report(report: Any, *, adjust_errors: dict | None = None, status: int = 200) -> Any:
    user = me()
    out = presenters.report_out(report, user)
    return (
        render_template(
            "reports/report.html",
            report=report,
            grant=report.grant,
            out=out,
            narrative_fields=NARRATIVE_FIELDS,
            can_upload=may_upload_receipt(report, user),
            can_edit=may_edit_report(report, user),
            adjust_errors=adjust_errors or {},
            form=request.form if status != 200 else {},
        ),
        status,
    )


@bp.route("/reports/<int:report_id>")
@page()
def report(report_id: int) -> Any:
    return _render_report(scope.get_report(me(), report_id))


@bp.route("/reports/<int:report_id>/events/<any(submit, return, accept):event>", methods=["POST"])
@page()
def fire(report_id: int, event: str) -> Any:
    user = me()
    report = scope.get_report(user, report_id, for_update=True)
    back = url_for("reports_pages.report", report_id=report.id)
    raw: dict[str, Any] = drop_blank(
        {"event": event, "comment": request.form.get("comment", "").strip()}
    )
    if event != "accept":
        return act(
            lambda: services.transition_report(
                report, ReportTransitionSchema().load(raw), actor=user
            ),
            success=f"Done: {REPORT.event_label(event).lower()}.",
            back=back,
        )
    # Accept, with the officer's per-line adjustments (only the lines given a figure or reason).
    adjusted = []
    for line in report.expenses:
        eligible = typed_amount(request.form.get(f"adjust-{line.id}-eligible_eur", ""))
        reason = request.form.get(f"adjust-{line.id}-reason", "").strip()
        if eligible or reason:
            adjusted.append(
                (
                    line.id,
                    drop_blank({"expense_id": line.id, "eligible_eur": eligible, "reason": reason}),
                )
            )
    if adjusted:
        raw["adjustments"] = [a for _, a in adjusted]
    _, errors, status = run_form(
        lambda: services.transition_report(report, ReportTransitionSchema().load(raw), actor=user)
    )
    if status == 200:
        done("Report accepted.")
        return redirect(back)
    by_line: dict[int, dict[str, list[str]]] = {}
    for key, messages in errors.items():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "adjustments" and parts[1].isdigit():
            index = int(parts[1])
            if index < len(adjusted):
                by_line.setdefault(adjusted[index][0], {})[parts[2]] = messages
    report = scope.get_report(user, report_id)
    return _render_report(report, adjust_errors=by_line, status=status)


@bp.route("/reports/<int:report_id>/receipts", methods=["POST"])
@page()
def upload(report_id: int) -> Any:
    user = me()
    report = scope.get_report(user, report_id, for_update=True)
    back = url_for("reports_pages.report", report_id=report.id, _anchor="receipts")
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        flash("Choose a file to upload.", "error")
        return redirect(back)
    raw = {"expense_id": as_int(request.form.get("expense_id"))}

    def run() -> Any:
        form = UploadFormSchema().load(raw)
        return services.add_attachment(
            report,
            storage.filename or "receipt",
            storage.read(),
            expense_id=form.get("expense_id"),
            actor=user,
        )

    name = receipts.clean_file_name(storage.filename or "")
    return act(run, success=f"Receipt {name} uploaded.", back=back)


@bp.route("/receipts/<int:attachment_id>")
@page()
def receipt(attachment_id: int) -> Any:
    attachment = scope.get_attachment(me(), attachment_id)
    if attachment is None:
        raise NotFound("No such file.")
    return receipts.receipt_response(
        attachment.id, attachment.content_type, attachment.file_name, attachment.content
    )
