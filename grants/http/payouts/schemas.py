"""Payout schemas."""

from marshmallow import Schema, ValidationError, fields, validates_schema

from grants.http.banking.schemas import PayoutAccountSchema
from grants.http.schemas import Day, InputSchema, Money, choice, one_of, text
from grants.payouts.services import confirm_missing
from workflows.payout import KINDS, PAYOUT, STATES


class PayoutCreateSchema(InputSchema):
    kind = choice(KINDS)
    amount = Money(allow_none=True)


class PayoutTransitionSchema(InputSchema):
    event = choice(PAYOUT.events)
    paid_on = Day(allow_none=True, not_future=True)
    payment_reference = text(200, required=False, allow_none=True)
    comment = text(10_000, required=False, min_length=0, multiline=True, allow_none=True)

    @validates_schema
    def _confirm_needs_date_and_reference(self, data: dict, **_kw: object) -> None:
        if missing := confirm_missing(data):
            raise ValidationError(missing)


class PayoutSchema(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    kind = one_of(KINDS)
    amount = Money()
    state = one_of(STATES)
    authorised_by = fields.Integer()
    authorised_by_email = fields.String()
    authorised_at = fields.DateTime()
    confirmed_by = fields.Integer(allow_none=True)
    confirmed_by_email = fields.String(allow_none=True)
    confirmed_at = fields.DateTime(allow_none=True)
    paid_on = fields.Date(allow_none=True)
    payment_reference = fields.String(allow_none=True)
    cancel_comment = fields.String(allow_none=True)
    account = fields.Nested(
        PayoutAccountSchema,
        allow_none=True,
        metadata={
            "description": (
                "The city's verified bank account in force at authorisation, copied (money paid "
                "out only; null for a recovery). Confirming is refused with account_changed "
                "when the city's verified account is no longer this one."
            )
        },
    )
