"""Schema building blocks shared by every domain: strict money, strict input, pagination."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy import func, select

from grants.db import today
from grants.money import MONEY_PATTERN, MoneyFormatError, format_money, parse_money

MAX_PAGE_SIZE = 100
#: The largest id a 32-bit INTEGER column holds; larger ones are refused, never sent to the DB.
MAX_ID = 2**31 - 1


def id_field(**kwargs: Any) -> fields.Integer:
    """An id given in a body or a query: a whole number from 1 to MAX_ID."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def one_of(values: Any, **kwargs: Any) -> fields.String:
    """An output string that is one of ``values`` (an enumeration in the OpenAPI document)."""
    metadata = {"enum": list(values), **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)


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


#: What no text field accepts: C0 and C1 controls (with DEL) and unpaired surrogates.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: A multi-line field also takes tab, line feed and carriage return.
_NOT_MULTILINE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


#: Invisible characters people paste without knowing, named in the 422.
_CONTROL_NAMES = {
    "\x00": "a null byte",
    "\x07": "a bell",
    "\x08": "a backspace",
    "\x0b": "a line break from a word processor",
    "\x0c": "a page break",
    "\x1b": "an escape",
    "\x7f": "a delete",
    "\x85": "a next-line mark",
}


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is no acceptable text (``None`` if it is): the one rule of api.md."""
    found = (_NOT_MULTILINE_TEXT if multiline else _NOT_TEXT).search(value)
    if found is None:
        return None
    char = found.group()
    kind = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    name = _CONTROL_NAMES.get(char)
    code = f"U+{ord(char):04X}, {name}" if name else f"U+{ord(char):04X}"
    allowed = " (only tab and line breaks are allowed)" if multiline else ""
    return (
        f"Contains {kind} ({code}) at position {found.start() + 1}{allowed}: "
        "it cannot be seen; delete and retype that part."
    )


class Text(fields.String):
    """Every text field of every input: stripped, bounded, free of controls and surrogates.

    ``multiline`` fields (narratives, comments, descriptions) may hold tab, LF and CR. Blank
    counts as missing when the field is required. Choices and patterns are Text too, so that
    no string reaches the database unchecked.
    """

    def __init__(
        self, *, max_length: int, min_length: int = 0, multiline: bool = False, **kwargs: Any
    ) -> None:
        validators = kwargs.pop("validate", None) or []
        if callable(validators):
            validators = [validators]
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("maxLength", max_length)
        if min_length:
            metadata.setdefault("minLength", min_length)
        super().__init__(
            validate=[validate.Length(min=min_length, max=max_length), *validators],
            metadata=metadata,
            **kwargs,
        )
        self.min_length = min_length
        self.max_length = max_length
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 4 * self.max_length:  # far too long: refused before it is scanned
            raise ValidationError(
                f"Length must be between {self.min_length} and {self.max_length}."
            )
        problem = text_problem(text, multiline=self.multiline)
        if problem:
            raise ValidationError(problem)
        return text.strip()


#: Kept for readers of older code: every stripped string is a :class:`Text`.
StrictString = Text


def text(
    max_length: int,
    *,
    required: bool = True,
    min_length: int = 1,
    multiline: bool = False,
    **kw: Any,
) -> Text:
    """A text field; required ones must not be blank."""
    return Text(
        required=required, max_length=max_length, min_length=min_length, multiline=multiline, **kw
    )


def choice(values: Any, *, required: bool = True, **kw: Any) -> Text:
    """One of ``values`` (an enumeration in the OpenAPI document)."""
    values = tuple(values)
    return Text(
        required=required,
        max_length=max(len(v) for v in values),
        validate=validate.OneOf(values),
        **kw,
    )


def pattern(regex: str, max_length: int, *, error: str | None = None, **kw: Any) -> Text:
    """A text matching ``regex`` in full."""
    return Text(max_length=max_length, validate=validate.Regexp(regex, error=error), **kw)


DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE_RE = re.compile(DATE_PATTERN)
MIN_YEAR, MAX_YEAR = 2000, 2100


class Day(fields.Date):
    """A calendar date written ``YYYY-MM-DD`` exactly, years 2000–2100 (api.md).

    ``not_future``: a payment date, which cannot lie after today (UTC).
    """

    def __init__(self, *, not_future: bool = False, **kwargs: Any) -> None:
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("pattern", DATE_PATTERN)
        super().__init__(metadata=metadata, **kwargs)
        self.not_future = not_future

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            raise ValidationError("Not a valid date: use YYYY-MM-DD.")
        day = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValidationError(f"The year must lie between {MIN_YEAR} and {MAX_YEAR}.")
        if self.not_future and day > today():
            raise ValidationError("A payment date cannot lie in the future.")
        return day


#: Unknown fields named in one 422 at most (the rest are counted).
MAX_UNKNOWN_REPORTED = 20


class InputSchema(Schema):
    """Every request body: unknown fields are refused, at most 20 of them named.

    Cross-field rules (``@validates_schema``: an end before its start, a city member without a
    city) run even when some field was refused, so every error comes back in one answer, not
    in two rounds. Such a rule reads only the fields that passed (``data.get``).
    """

    class Meta:
        unknown = RAISE

    def _invoke_schema_validators(self, **kwargs: Any) -> None:
        # marshmallow skips every schema validator once a field failed (skip_on_field_errors);
        # here they always run: the one place where that is decided for all inputs. A rule's
        # error about a field that was refused already is left out (one reason per field, and
        # a list's per-item errors never mixed with a message about the list).
        store = kwargs["error_store"]
        if not store.errors:
            super()._invoke_schema_validators(**{**kwargs, "field_errors": False})
            return
        rules = type(store)()
        super()._invoke_schema_validators(**{**kwargs, "error_store": rules, "field_errors": False})
        _add_missing(store.errors, rules.errors)

    @pre_load
    def _refuse_unknown(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = {f.data_key or name for name, f in self.load_fields.items()}
        unknown = [key for key in data if key not in known]
        if unknown:
            errors: dict[str, Any] = {
                _NOT_TEXT.sub("?", str(k)[:100]): ["Unknown field."]
                for k in unknown[:MAX_UNKNOWN_REPORTED]
            }
            if len(unknown) > MAX_UNKNOWN_REPORTED:
                errors["_schema"] = [
                    f"{len(unknown)} unknown fields in all; "
                    f"the first {MAX_UNKNOWN_REPORTED} are listed."
                ]
            raise ValidationError(errors)
        return data


def _add_missing(errors: dict[Any, Any], more: dict[Any, Any]) -> None:
    """Add to ``errors`` what ``more`` says about fields (or items) it says nothing of yet."""
    for key, value in more.items():
        if key not in errors:
            errors[key] = value
        elif isinstance(errors[key], dict) and isinstance(value, dict):
            _add_missing(errors[key], value)


class PageQuerySchema(InputSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def paginate(
    session: Any, query: Any, page: int, page_size: int
) -> tuple[list[Any], dict[str, int]]:
    """One page of ``query`` and the ``X-Pagination`` metadata of api.md."""
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
