"""Programme budget schemas: a title year's budget in, its figures out."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from grants.http.schemas import InputSchema, Money

#: The title years the programme knows (as for titles).
YEARS = validate.Range(min=2000, max=2100)


class YearPathSchema(InputSchema):
    year = fields.Integer(required=True, validate=YEARS, metadata={"example": 2025})


class BudgetPutSchema(InputSchema):
    budget = Money(
        required=True,
        allow_zero=True,
        metadata={
            "description": "The programme budget of the title year in EUR; never below what "
            "the year has committed already (409 budget_exceeded).",
            "example": "60000.00",
        },
    )


class TitleYearSchema(Schema):
    year = fields.Integer(metadata={"example": 2025})
    budget = Money(allow_none=True, metadata={"description": "null: no budget set (no limit)"})
    committed = Money(
        metadata={
            "description": "Approved amounts of the year's live grants, and paid − recovered "
            "of its closed or terminated ones (the cap's committed, summed over the year's "
            "titles)"
        }
    )
    paid = Money(metadata={"description": "Advances and balances paid"})
    recovered = Money(metadata={"description": "Recoveries received"})
    available = Money(
        allow_none=True, metadata={"description": "budget − committed; null: no budget set"}
    )
