"""Pages of reports: file and edit them with expense lines, upload receipts, submit, verify."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from grants import scope
from grants.db import today
from grants.errors import NotFound
from grants.grant.models import CATEGORIES
from grants.http.history import report_history
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
from grants.reports.integrity import SAME_RECEIPT, LineFacts, typed_warnings, warnings_of
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
#: The words of each expense field, on the form and in its list of errors (never the name).
FIELD_LABELS = {
    "invoice_number": "Invoice number",
    "invoice_date": "Invoice date",
    "payment_date": "Payment date",
    "supplier": "Supplier",
    "description": "Description",
    "category": "Category",
    "currency": "Currency",
    "amount": "Amount, VAT included",
    "vat_amount": "VAT amount",
    "vat_recoverable": "Recoverable VAT",
}
#: What a new line shows before anything is typed: a line with only these is blank.
LINE_DEFAULTS = {"currency": "EUR", "vat_amount": "0.00", "vat_recoverable": ""}
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_AMOUNT = re.compile(r"^([0-9]{1,12})\.([0-9]{2})$")


def _blank(row: dict[str, str]) -> bool:
    """Nothing typed in the line (its defaults left as they were)."""
    for name, value in row.items():
        default = LINE_DEFAULTS.get(name, "")
        if name == "vat_amount" and value and typed_amount(value) == default:
            continue
        if value.strip() and value.strip().upper() != default.upper():
            return False
    return True


def _day(text: str | None) -> dt.date | None:
    if not text or not _DAY.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _cents(text: str | None) -> int | None:
    match = _AMOUNT.match(typed_amount(text or ""))
    return int(match.group(1)) * 100 + int(match.group(2)) if match else None


def _facts(row: dict[str, str]) -> LineFacts | None:
    """A typed line as far as it can be read, for its warnings (None: nothing to compare)."""
    if _blank(row) or not (row.get("supplier") or "").strip():
        return None
    return LineFacts(
        supplier=row.get("supplier", ""),
        invoice_number=row.get("invoice_number", ""),
        invoice_date=_day(row.get("invoice_date")),
        payment_date=_day(row.get("payment_date")),
        currency=(row.get("currency") or "EUR").strip().upper(),
        amount_cents=_cents(row.get("amount")),
    )


def _totals(grant: Any, lines: list[dict[str, str]]) -> dict[str, Any]:
    """Planned and typed per category: EUR lines added up, other currencies kept apart.

    The other currencies are converted when the report is submitted (with that month's rate),
    so they are shown in their own currency and never mixed into the EUR figures.
    """
    planned: dict[str, int] = {}
    for b in grant.budget_lines:
        planned[b.category] = planned.get(b.category, 0) + b.amount_cents
    eur: dict[str, int] = {}
    other: dict[str, dict[str, int]] = {}
    for line in lines:
        cents = _cents(line.get("amount"))
        category = line.get("category", "")
        if cents is None or category not in CATEGORIES:
            continue
        currency = (line.get("currency") or "EUR").strip().upper()
        if currency == "EUR":
            eur[category] = eur.get(category, 0) + cents
        else:
            bucket = other.setdefault(category, {})
            bucket[currency] = bucket.get(currency, 0) + cents
    rows = [
        {
            "category": c,
            "planned": planned.get(c, 0),
            "eur": eur.get(c, 0),
            "left": planned.get(c, 0) - eur.get(c, 0),
            "other": sorted(other.get(c, {}).items()),
        }
        for c in CATEGORIES
    ]
    other_total: dict[str, int] = {}
    for bucket in other.values():
        for currency, cents in bucket.items():
            other_total[currency] = other_total.get(currency, 0) + cents
    return {
        "rows": rows,
        "planned": sum(planned.values()),
        "eur": sum(eur.values()),
        "left": sum(planned.values()) - sum(eur.values()),
        "other": sorted(other_total.items()),
    }


def _error_summary(errors: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """Every error of the form at once, in words: ``(field id, label, message)``."""
    narrative = {name: label for name, label, _ in NARRATIVE_FIELDS}
    out = []
    for key, messages in errors.items():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "expenses" and parts[1].isdigit():
            label = f"{FIELD_LABELS.get(parts[2], 'A field')}, line {int(parts[1]) + 1}"
        elif key == "expenses":
            label = "Expenses"
        else:
            label = narrative.get(key, "A field")
        out.extend((key, label, message) for message in messages)
    return out


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
    lines = [r for r in line_rows(request.form, "expenses", EXPENSE_FIELDS) if not _blank(r)]
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
    grant: Any,
    report: Any,
    kind: str,
    narrative: dict,
    lines: list,
    errors: dict,
    status: int,
    *,
    saved: list[list[dict[str, Any]]] | None = None,
) -> Any:
    """The form; each line's warnings are the saved line's (``saved``) or the typed line's."""
    lines = lines or [{}]
    if saved is None:
        found = typed_warnings(
            [_facts(line) for line in lines], grant, replacing=report.id if report else None
        )
        saved = [[presenters.warning_out(w, False) for w in ws] for ws in found]
    return (
        render_template(
            "reports/form.html",
            grant=grant,
            report=report,
            kind=kind,
            narrative=narrative,
            lines=lines,
            errors=errors,
            error_summary=_error_summary(errors),
            line_warnings=saved,
            totals=_totals(grant, lines),
            narrative_fields=NARRATIVE_FIELDS,
            field_labels=FIELD_LABELS,
            categories=CATEGORIES,
            currencies=CURRENCIES,
            today=today(),
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
        out = presenters.report_out(report, user)
        saved = [e["warnings"] for e in out["expenses"]]
        return _render_form(
            grant, report, report.kind, report.narrative, lines, {}, 200, saved=saved
        )
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


@bp.route("/grants/<int:grant_id>/reports/line-warnings", methods=["POST"])
@page()
def line_warnings(grant_id: int) -> Any:
    """The warnings of the lines being typed on a report's form (app.js asks on change).

    The form's own fields are sent; the answer is ``{"lines": {"<index>": [{kind, text}]}}``,
    without any other line's id (the form is the city's).
    """
    user = me()
    grant = get_grant(user, grant_id)
    require_role(CITY_MEMBER)
    replacing = None
    report_id = as_int(request.form.get("report_id"))
    if isinstance(report_id, int):
        report = scope.get_report(user, report_id)
        if report.grant_id != grant.id:
            abort(404)
        replacing = report.id
    rows = indexed_rows(request.form, "expenses", EXPENSE_FIELDS)
    found = typed_warnings([_facts(r) for r in rows.values()], grant, replacing=replacing)
    response = jsonify(
        {
            "lines": {
                str(index): [presenters.warning_out(w, False) for w in warnings]
                for index, warnings in zip(rows, found, strict=True)
            }
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


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
            history=report_history(report.id, report.grant_id),
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
        attachment = services.add_attachment(
            report,
            storage.filename or "receipt",
            storage.read(),
            expense_id=form.get("expense_id"),
            actor=user,
        )
        line = next((e for e in report.expenses if e.id == attachment.expense_id), None)
        if line is not None and any(
            w.kind == SAME_RECEIPT for w in warnings_of([line], report.grant)[line.id]
        ):
            done(
                "The same file is on another expense line: it is kept, with a warning "
                "beside the line, and finance checks it."
            )
        return attachment

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
