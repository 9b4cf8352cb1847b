"""Exchange-rate schemas."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields

from grants.rates.models import RATE_SCALE
from grants.schemas import InputSchema, pattern

RATE_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,6})?$"
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def parse_rate(value: Any) -> int:
    """``"7.4604"`` → 7460400 millionths; a string > 0 with at most 6 decimals, nothing else."""
    if not isinstance(value, str) or not re.fullmatch(RATE_PATTERN, value):
        raise ValidationError('Must be a decimal string with at most 6 decimals, like "7.4604".')
    whole, _, fraction = value.partition(".")
    micros = int(whole) * RATE_SCALE + int((fraction or "0").ljust(6, "0"))
    if micros <= 0:
        raise ValidationError("Must be greater than zero.")
    return micros


def format_rate(micros: int | None) -> str | None:
    if micros is None:
        return None
    whole, fraction = divmod(micros, RATE_SCALE)
    digits = f"{fraction:06d}".rstrip("0").ljust(4, "0")
    return f"{whole}.{digits}"


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
        return parse_rate(value)


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
