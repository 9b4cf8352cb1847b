"""Grant agreement schemas."""

from marshmallow import Schema, fields

from grants.http.schemas import InputSchema, choice, one_of, text
from workflows.agreement import AGREEMENT, STATES


class AgreementTransitionSchema(InputSchema):
    event = choice(AGREEMENT.events)
    #: The city signatory's full name as typed (the text rules of every field: no control
    #: characters); required to sign, refused on the countersignature.
    signatory_name = text(200, required=False, allow_none=True)


class AgreementSchema(Schema):
    grant_id = fields.Integer()
    version = fields.Integer()
    state = one_of(STATES)
    sha256 = fields.String(metadata={"description": "SHA-256 of the PDF served by …/file"})
    terms_sha256 = fields.String(
        metadata={"description": "SHA-256 of the terms printed in the PDF (its terms.json)"}
    )
    issued_at = fields.DateTime()
    city_signed_by = fields.Integer(allow_none=True)
    city_signed_by_email = fields.String(allow_none=True)
    city_signatory_name = fields.String(allow_none=True)
    city_signed_at = fields.DateTime(allow_none=True)
    countersigned_by = fields.Integer(allow_none=True)
    countersigned_by_email = fields.String(allow_none=True)
    countersigned_at = fields.DateTime(allow_none=True)
