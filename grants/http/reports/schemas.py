"""Report, expense-line and receipt schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from grants.db import today
from grants.grant.models import CATEGORIES
from grants.http.rates.schemas import Rate
from grants.http.schemas import (
    Day,
    InputSchema,
    Money,
    choice,
    id_field,
    one_of,
    pattern,
    text,
)
from grants.reports.integrity import KINDS as WARNING_KINDS
from workflows.report import KINDS, REPORT, STATES

MAX_EXPENSES = 500


class NarrativeSchema(InputSchema):
    activities = text(20_000, required=False, min_length=0, multiline=True)
    participants = text(20_000, required=False, min_length=0, multiline=True)
    community_connections = text(20_000, required=False, min_length=0, multiline=True)
    cooperation = text(20_000, required=False, min_length=0, multiline=True)
    trust = text(20_000, required=False, min_length=0, multiline=True)


class ExpenseInSchema(InputSchema):
    invoice_number = text(100)
    invoice_date = Day(required=True)
    payment_date = Day(allow_none=True, not_future=True)
    supplier = text(200)
    description = text(1000, multiline=True)
    category = choice(CATEGORIES)
    currency = pattern(r"^[A-Z]{3}$", 3, required=True, error="An ISO 4217 code, like DKK.")
    amount = Money(required=True)
    vat_amount = Money(allow_zero=True, load_default=0)
    vat_recoverable = fields.Boolean(load_default=False)

    @validates("invoice_date")
    def _invoice_not_future(self, value: Any, **kwargs: Any) -> None:
        if value > today():
            raise ValidationError("An invoice date cannot lie in the future.")

    @validates_schema
    def _vat_within_amount(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "amount" in data and data.get("vat_amount", 0) > data["amount"]:
            raise ValidationError("Must not exceed amount.", "vat_amount")


class ReportCreateSchema(InputSchema):
    kind = choice(KINDS)
    narrative = fields.Nested(NarrativeSchema, load_default=dict)
    expenses = fields.List(
        fields.Nested(ExpenseInSchema),
        load_default=list,
        validate=validate.Length(max=MAX_EXPENSES),
    )


class ReportPatchSchema(InputSchema):
    narrative = fields.Nested(NarrativeSchema)
    expenses = fields.List(
        fields.Nested(ExpenseInSchema), validate=validate.Length(max=MAX_EXPENSES)
    )


class AdjustmentSchema(InputSchema):
    expense_id = id_field(required=True)
    eligible_eur = Money(required=True, allow_zero=True)
    reason = text(2000, multiline=True)


class ReportTransitionSchema(InputSchema):
    event = choice(REPORT.events)
    comment = text(10_000, required=False, min_length=0, multiline=True, allow_none=True)
    adjustments = fields.List(fields.Nested(AdjustmentSchema), validate=validate.Length(max=500))


class AttachmentSchema(Schema):
    id = fields.Integer()
    report_id = fields.Integer()
    expense_id = fields.Integer(allow_none=True)
    file_name = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    content_type = fields.String()
    uploaded_at = fields.DateTime()


class WarningSchema(Schema):
    kind = one_of(
        WARNING_KINDS,
        required=True,
        metadata={
            "description": "same_receipt: a receipt file with the same SHA-256 on another line; "
            "same_invoice: the same supplier and invoice number (case, spaces and punctuation "
            "aside) on another line; same_supplier_date_amount: the same supplier, invoice "
            "date, currency and amount on another line; outside_period: an invoice or payment "
            "date outside the pilot's dates. Any grant of the programme counts."
        },
    )
    other_expense_id = fields.Integer(
        metadata={
            "description": "the line it collides with; only for finance officers, admins and "
            "auditors (never for a city)"
        }
    )


class ExpenseSchema(Schema):
    id = fields.Integer()
    invoice_number = fields.String()
    invoice_date = fields.Date()
    payment_date = fields.Date(allow_none=True)
    supplier = fields.String()
    description = fields.String()
    category = one_of(CATEGORIES)
    currency = fields.String()
    amount = Money(attribute="amount_cents", metadata={"description": "in the line's currency"})
    vat_amount = Money(attribute="vat_cents", allow_zero=True)
    vat_recoverable = fields.Boolean()
    rate = Rate(attribute="rate_micros", allow_none=True)
    amount_eur = Money(attribute="amount_eur_cents", allow_none=True)
    eligible_eur = Money(allow_none=True, metadata={"description": "after any adjustment"})
    claimed_eligible_eur = Money(attribute="eligible_eur_cents", allow_none=True)
    ineligible_reason = fields.String(allow_none=True)
    outside_period = fields.Boolean()
    attachments = fields.List(fields.Nested(AttachmentSchema))
    warnings = fields.List(
        fields.Nested(WarningSchema),
        metadata={"description": "integrity warnings: shown beside the line, never refusing it"},
    )


class ReportSchema(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    kind = one_of(KINDS)
    state = one_of(STATES)
    narrative = fields.Dict()
    due_on = fields.Date()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    expenses = fields.List(fields.Nested(ExpenseSchema))
    attachments = fields.List(fields.Nested(AttachmentSchema))
    total_eur = Money(allow_none=True, allow_zero=True)
    eligible_eur = Money(allow_none=True, allow_zero=True)
    available_events = fields.List(one_of(REPORT.events))
