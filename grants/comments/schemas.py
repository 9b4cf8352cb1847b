"""Comment schemas."""

from marshmallow import Schema, fields, validate

from grants.comments.models import VISIBILITIES
from grants.schemas import InputSchema, text


class CommentCreateSchema(InputSchema):
    body = text(10_000)
    visibility = fields.String(load_default="shared", validate=validate.OneOf(VISIBILITIES))


class CommentSchema(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    author = fields.Function(
        lambda c: {"id": c.author.id, "email": c.author.email, "role": c.author.role}
    )
    body = fields.String()
    visibility = fields.String()
    created_at = fields.DateTime()
