"""Comment schemas."""

from marshmallow import Schema, fields

from grants.comments.models import VISIBILITIES
from grants.http.schemas import InputSchema, choice, one_of, text


class CommentCreateSchema(InputSchema):
    body = text(10_000, multiline=True)
    visibility = choice(VISIBILITIES, required=False, load_default="shared")


class CommentSchema(Schema):
    id = fields.Integer()
    grant_id = fields.Integer()
    author = fields.Function(
        lambda c: {"id": c.author.id, "email": c.author.email, "role": c.author.role}
    )
    body = fields.String()
    visibility = one_of(VISIBILITIES)
    created_at = fields.DateTime()
