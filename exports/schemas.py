"""Export schemas."""

from marshmallow import Schema, fields, validate

from exports.models import KINDS, STATUSES
from grants.http.schemas import InputSchema, choice, id_field, one_of


class ExportCreateSchema(InputSchema):
    kind = choice(KINDS)
    grant_id = id_field()
    city_id = id_field()
    title_year = fields.Integer(validate=validate.Range(min=2000, max=2100))


class ExportSchema(Schema):
    id = fields.Integer()
    kind = one_of(KINDS)
    params = fields.Dict()
    status = one_of(STATUSES)
    progress = fields.Integer()
    file_name = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    row_counts = fields.Dict(allow_none=True)
    requested_by = fields.Function(lambda e: e.requested_by.email)
    requested_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
