"""User and token schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grants.http.schemas import InputSchema, Text, choice, id_field, one_of, text
from workflows.grant import CITY_MEMBER, MENTOR, ROLES

EMAIL = validate.Email(error="Not a valid email address.")
PASSWORD_RULE = "Use 10 to 1024 characters."  # noqa: S105  # nosec B105 (a message)


class Password(Text):
    """A password: the one text rule (no control characters, no lone surrogates), bounded,
    but kept exactly as typed (never stripped), load-only."""

    def __init__(self, *, min_length: int = 10, error: str = PASSWORD_RULE, **kwargs: Any) -> None:
        kwargs.setdefault("load_only", True)
        super().__init__(max_length=1024, min_length=min_length, **kwargs)
        self.validators = [validate.Length(min=min_length, max=1024, error=error)]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        checked = super()._deserialize(value, attr, data, **kwargs)  # the checks of Text
        return value if isinstance(value, str) else checked


class TokenRequestSchema(InputSchema):
    email = text(254)
    password = Password(required=True, min_length=1, error="Use at most 1024 characters.")


def _check_role_fields(data: dict[str, Any]) -> None:
    role = data.get("role")
    if role is None:
        return
    if role == CITY_MEMBER and "city_id" in data and not data.get("city_id"):
        raise ValidationError("A city member needs a city_id.", "city_id")
    if role != CITY_MEMBER and data.get("city_id"):
        raise ValidationError("Only city members belong to a city.", "city_id")
    if role != MENTOR and data.get("mentor_city_ids"):
        raise ValidationError("Only mentors are assigned cities.", "mentor_city_ids")


class UserCreateSchema(InputSchema):
    email = text(254, validate=EMAIL)
    password = Password(required=True)
    role = choice(ROLES)
    city_id = id_field(allow_none=True)
    mentor_city_ids = fields.List(id_field(), validate=validate.Length(max=100))

    @validates_schema
    def _role_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("role") == CITY_MEMBER and not data.get("city_id"):
            raise ValidationError("A city member needs a city_id.", "city_id")
        _check_role_fields(data)


class UserPatchSchema(InputSchema):
    """Any of: a new password, active or not, a new role (with its ``city_id``: a city member
    belongs to one city, other roles to none), a mentor's cities. Leaving a field out keeps it.
    """

    password = Password()
    is_active = fields.Boolean()
    role = choice(ROLES, required=False)
    city_id = id_field(allow_none=True)
    mentor_city_ids = fields.List(id_field(), validate=validate.Length(max=100))

    @validates_schema
    def _role_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        _check_role_fields(data)


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = one_of(ROLES)
    city_id = fields.Integer(allow_none=True)
    mentor_city_ids = fields.List(fields.Integer())
    is_active = fields.Boolean()
    created_at = fields.DateTime()


class TokenUserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = one_of(ROLES)
    city_id = fields.Integer(allow_none=True)


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(TokenUserSchema)
