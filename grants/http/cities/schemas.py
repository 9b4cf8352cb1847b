"""City and title schemas, split by direction."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grants.http.schemas import Day, InputSchema, Money, pattern, text


class StrictBoolean(fields.Boolean):
    """JSON true or false only (marshmallow also takes 0, 1, "yes", "on", …)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class CityCreateSchema(InputSchema):
    name = text(200)
    country = pattern(r"^[A-Z]{2}$", 2, required=True, error="An ISO 3166 alpha-2 code, like DK.")
    # strict: 2.5 or "12" is no population, 0 or "yes" no boolean (the document says so)
    population = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=0, max=100_000_000)
    )
    is_capital = StrictBoolean(load_default=False)


class TitleCreateSchema(InputSchema):
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    valid_from = Day(required=True)
    valid_until = Day(required=True)
    cap = Money()

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and start > end:
            raise ValidationError("Must not be before valid_from.", "valid_until")


class TitleSchema(Schema):
    id = fields.Integer()
    city_id = fields.Integer()
    year = fields.Integer()
    valid_from = fields.Date()
    valid_until = fields.Date()
    cap = Money(allow_none=True, metadata={"description": "null when the caller may not see it"})
    committed = Money(allow_none=True)
    paid = Money(allow_none=True)
    available = Money(allow_none=True)


class CitySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    country = fields.String()
    population = fields.Integer(allow_none=True)
    is_capital = fields.Boolean()
    titles = fields.List(fields.Nested(TitleSchema))
