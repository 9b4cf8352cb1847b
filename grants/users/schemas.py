"""User and token schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from grants.schemas import InputSchema, id_field
from workflows.grant import CITY_MEMBER, MENTOR, ROLES

EMAIL = validate.Email(error="Not a valid email address.")


class TokenRequestSchema(InputSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class UserCreateSchema(InputSchema):
    email = fields.String(required=True, validate=[validate.Length(max=254), EMAIL])
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=10, max=1024, error="Use 10 to 1024 characters."),
    )
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    city_id = id_field(allow_none=True)
    mentor_city_ids = fields.List(id_field(), validate=validate.Length(max=100))

    @validates_schema
    def _role_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        role = data.get("role")
        if role == CITY_MEMBER and not data.get("city_id"):
            raise ValidationError("A city member needs a city_id.", "city_id")
        if role != CITY_MEMBER and data.get("city_id"):
            raise ValidationError("Only city members belong to a city.", "city_id")
        if role != MENTOR and data.get("mentor_city_ids"):
            raise ValidationError("Only mentors are assigned cities.", "mentor_city_ids")


class UserPatchSchema(InputSchema):
    password = fields.String(
        load_only=True,
        validate=validate.Length(min=10, max=1024, error="Use 10 to 1024 characters."),
    )
    is_active = fields.Boolean()
    mentor_city_ids = fields.List(id_field(), validate=validate.Length(max=100))


class UserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    city_id = fields.Integer(allow_none=True)
    mentor_city_ids = fields.List(fields.Integer())
    is_active = fields.Boolean()
    created_at = fields.DateTime()


class TokenUserSchema(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    city_id = fields.Integer(allow_none=True)


class TokenSchema(Schema):
    token = fields.String()
    expires_at = fields.DateTime()
    user = fields.Nested(TokenUserSchema)
