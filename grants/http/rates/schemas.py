"""Exchange-rate schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields

from grants.http.schemas import InputSchema, pattern
from grants.rates.models import (
    CURRENCY_PATTERN,
    MONTH_PATTERN,
    RATE_PATTERN,
    format_rate,
    parse_rate,
)


class Rate(fields.Field):
    def __init__(self, **kwargs: Any) -> None:
        # A string (apispec knows no type for a custom Field), greater than zero.
        kwargs.setdefault(
            "metadata",
            {
                "type": "string",
                "pattern": RATE_PATTERN,
                "not": {"pattern": r"^0+(\.0+)?$"},
                "example": "7.4604",
            },
        )
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return format_rate(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_rate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class RatePutSchema(InputSchema):
    rate = Rate(required=True)


class RatePathSchema(InputSchema):
    month = pattern(MONTH_PATTERN, 7, required=True, error="Use YYYY-MM.")
    currency = pattern(CURRENCY_PATTERN, 3, required=True, error="An ISO 4217 code, like DKK.")


class RateQuerySchema(InputSchema):
    month = pattern(MONTH_PATTERN, 7, error="Use YYYY-MM.")
    currency = pattern(CURRENCY_PATTERN, 3, error="An ISO 4217 code, like DKK.")


class RateSchema(Schema):
    month = fields.String()
    currency = fields.String()
    rate = Rate(attribute="rate_micros")
    updated_at = fields.DateTime()
