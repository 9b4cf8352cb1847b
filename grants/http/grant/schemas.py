"""Grant schemas, split by direction."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grants.grant.models import CATEGORIES
from grants.http.schemas import (
    MAX_ID,
    Day,
    InputSchema,
    Money,
    PageQuerySchema,
    choice,
    one_of,
    text,
)
from workflows.grant import GRANT, STATES
from workflows.report import KINDS as REPORT_KINDS

MAX_BUDGET_LINES = 50


class BudgetLineInSchema(InputSchema):
    category = choice(CATEGORIES)
    description = text(500)
    amount = Money(required=True)


def _dates_ordered(data: dict[str, Any]) -> None:
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise ValidationError("Must not be before start_date.", "end_date")


class GrantCreateSchema(InputSchema):
    title = text(200)
    summary = text(10_000, required=False, min_length=0, multiline=True, load_default="")
    start_date = Day(required=True)
    end_date = Day(required=True)
    budget_lines = fields.List(
        fields.Nested(BudgetLineInSchema),
        required=True,
        validate=validate.Length(max=MAX_BUDGET_LINES),
    )

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        _dates_ordered(data)


class GrantPatchSchema(InputSchema):
    title = text(200, required=False)
    summary = text(10_000, required=False, min_length=0, multiline=True)
    start_date = Day()
    end_date = Day()
    budget_lines = fields.List(
        fields.Nested(BudgetLineInSchema), validate=validate.Length(max=MAX_BUDGET_LINES)
    )

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        _dates_ordered(data)


class GrantTransitionSchema(InputSchema):
    event = choice(GRANT.events)
    comment = text(10_000, required=False, min_length=0, multiline=True, allow_none=True)
    approved_amount = Money(allow_none=True)


class GrantQuerySchema(PageQuerySchema):
    state = choice(STATES, required=False)
    # Not id_field(): a query string is text, and strict=True refuses "?city_id=2".
    city_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    title_year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class BudgetLineSchema(Schema):
    id = fields.Integer()
    category = one_of(CATEGORIES)
    description = fields.String()
    amount = Money(attribute="amount_cents")


class ReportDueSchema(Schema):
    kind = one_of(REPORT_KINDS)
    due_on = fields.Date()


class GrantSchema(Schema):
    id = fields.Integer()
    city_id = fields.Integer()
    city_name = fields.String()
    title_year = fields.Integer()
    title = fields.String()
    summary = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    state = one_of(STATES)
    requested_amount = Money()
    approved_amount = Money(allow_none=True)
    paid_amount = Money()
    recovered_amount = Money()
    reported_eur = Money(metadata={"description": "EUR of expense lines in submitted reports"})
    eligible_eur = Money(metadata={"description": "eligible EUR of accepted reports"})
    balance_due = Money(metadata={"description": "owed to the city once the final report is in"})
    recovery_due = Money(metadata={"description": "owed back by the city"})
    budget_lines = fields.List(fields.Nested(BudgetLineSchema))
    available_events = fields.List(one_of(GRANT.events))
    reports_due = fields.List(fields.Nested(ReportDueSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ActorSchema(Schema):
    id = fields.Integer(allow_none=True)
    email = fields.String(allow_none=True)
    role = fields.String(allow_none=True)


class AuditEventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Nested(ActorSchema)
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    data = fields.Dict()
