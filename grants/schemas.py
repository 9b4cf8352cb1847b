"""Schema building blocks shared by every domain: strict money, strict input, pagination."""

from __future__ import annotations

import json
import math
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from grants.money import MONEY_PATTERN, MoneyFormatError, format_money, parse_money

MAX_PAGE_SIZE = 100
#: The largest id a 32-bit INTEGER column holds; larger ones are refused, never sent to the DB.
MAX_ID = 2**31 - 1


def id_field(**kwargs: Any) -> fields.Integer:
    """An id given in a body or a query: a whole number from 1 to MAX_ID."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class Money(fields.Field):
    """An amount of money: a JSON string with exactly two decimals in, integer cents inside."""

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("type", "string")  # apispec knows no type for a custom Field
        metadata.setdefault("pattern", MONEY_PATTERN)
        metadata.setdefault("example", "1500.00")
        super().__init__(metadata=metadata, **kwargs)
        self.allow_zero = allow_zero

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return format_money(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        try:
            return parse_money(value, allow_zero=self.allow_zero)
        except MoneyFormatError as exc:
            raise ValidationError(str(exc)) from exc


class StrictString(fields.String):
    """A string that is stripped; blank counts as missing when required."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        return text.strip()


def text(max_length: int, *, required: bool = True, min_length: int = 1, **kw: Any) -> fields.Field:
    return StrictString(
        required=required, validate=validate.Length(min=min_length, max=max_length), **kw
    )


class InputSchema(Schema):
    """Every request body: unknown fields are refused."""

    class Meta:
        unknown = RAISE


class PageQuerySchema(InputSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def paginate(
    session: Any, query: Any, page: int, page_size: int
) -> tuple[list[Any], dict[str, int]]:
    """One page of ``query`` and the ``X-Pagination`` metadata of api.md."""
    from sqlalchemy import func, select

    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(page_size).offset((page - 1) * page_size)).unique())
    meta = {
        "total": total,
        "total_pages": max(1, math.ceil(total / page_size)) if total else 0,
        "page": page,
        "page_size": page_size,
    }
    return items, meta


def pagination_headers(meta: dict[str, int]) -> dict[str, str]:
    return {"X-Pagination": json.dumps(meta)}
