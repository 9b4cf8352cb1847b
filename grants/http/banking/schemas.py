"""Bank account schemas: the shapes of api.md; the IBAN and BIC are checked by the service."""

from marshmallow import Schema, fields

from grants.banking.models import EVENTS, STATES
from grants.http.schemas import InputSchema, choice, one_of, text


class BankAccountCreateSchema(InputSchema):
    holder = text(200, metadata={"description": "The account holder, as the bank knows it."})
    iban = text(
        42,  # 34 characters, with the spaces of the printed form
        metadata={
            "description": (
                "ISO 13616: its checksum and the country's length and format are checked "
                "(422 otherwise); spaces are dropped, letters upper-cased."
            )
        },
    )
    bic = text(
        14,
        required=False,
        allow_none=True,
        metadata={
            "description": (
                "8 or 11 characters, of a bank in the IBAN's country; left out, the BIC of "
                "the IBAN's bank where it is known."
            )
        },
    )


class BankAccountTransitionSchema(InputSchema):
    event = choice(EVENTS)
    comment = text(10_000, required=False, min_length=0, multiline=True, allow_none=True)


class BankAccountSchema(Schema):
    id = fields.Integer()
    city_id = fields.Integer()
    holder = fields.String()
    iban = fields.String(metadata={"description": "Electronic form: no spaces, upper case."})
    bic = fields.String(allow_none=True)
    state = one_of(STATES)
    proposed_by = fields.Integer()
    proposed_by_email = fields.String()
    proposed_at = fields.DateTime()
    verified_by = fields.Integer(allow_none=True)
    verified_by_email = fields.String(allow_none=True)
    verified_at = fields.DateTime(allow_none=True)
    rejected_by = fields.Integer(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    reject_comment = fields.String(allow_none=True)
    superseded_at = fields.DateTime(allow_none=True)


class PayoutAccountSchema(Schema):
    """The copy of the city's verified account a payout was authorised against."""

    id = fields.Integer()
    holder = fields.String()
    iban = fields.String()
    bic = fields.String(allow_none=True)
