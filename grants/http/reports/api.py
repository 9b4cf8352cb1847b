"""HTTP API of reports, expense lines and receipts."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint
from marshmallow import fields, validate

from grants import scope
from grants.errors import Unprocessable
from grants.http.auth import current_user, endpoint
from grants.http.loaders import load_grant
from grants.http.reports import presenters
from grants.http.reports.schemas import (
    AttachmentSchema,
    ReportCreateSchema,
    ReportPatchSchema,
    ReportSchema,
    ReportTransitionSchema,
)
from grants.http.schemas import MAX_ID, InputSchema
from grants.reports import receipts, services
from grants.users.models import User
from workflows.grant import CITY_MEMBER, FINANCE_OFFICER

blp = Blueprint("reports", __name__, description="Interim and final reports with expenses")


class UploadSchema(InputSchema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class UploadFormSchema(InputSchema):
    # A multipart form carries text: "12" is the id 12 here (JSON bodies take numbers only).
    expense_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_ID))


def load_report(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    report_id = kwargs.pop("report_id")
    kwargs["report"] = scope.get_report(user, report_id, for_update=request.method != "GET")
    return kwargs


@blp.route("/grants/<int:grant_id>/reports", methods=["POST"])
@blp.doc(
    operationId="createReport",
    description=(
        "City members of the grant's city. An interim report once the grant is disbursed, the "
        "final one once it is interim_reported (else 409 invalid_transition)."
    ),
)
@endpoint(roles=[CITY_MEMBER], load=load_grant)
@blp.arguments(ReportCreateSchema)
@blp.response(201, ReportSchema)
def create_report(data: dict[str, Any], grant: Any) -> Any:
    """File an interim report (once disbursed) or the final report (once interim_reported)."""
    user = current_user()
    return presenters.report_out(services.create_report(grant, data, actor=user), user)


@blp.route("/grants/<int:grant_id>/reports", methods=["GET"])
@blp.doc(operationId="listReports", description="Within scope.")
@endpoint(load=load_grant)
@blp.response(200, ReportSchema(many=True))
def list_reports(grant: Any) -> Any:
    """The grant's reports."""
    user = current_user()
    return [presenters.report_out(r, user) for r in services.list_reports(grant)]


@blp.route("/reports/<int:report_id>", methods=["GET"])
@blp.doc(
    operationId="getReport",
    description=(
        "Within scope. Each expense line has `rate`, `amount_eur` and `eligible_eur` once the "
        "report is submitted."
    ),
)
@endpoint(load=load_report)
@blp.response(200, ReportSchema)
def get_report(report: Any) -> Any:
    """One report with its expense lines (EUR figures once submitted)."""
    return presenters.report_out(report, current_user())


@blp.route("/reports/<int:report_id>", methods=["PATCH"])
@blp.doc(
    operationId="updateReport",
    description=(
        "City members, while the report is draft or returned (else 409 invalid_transition)."
    ),
)
@endpoint(roles=[CITY_MEMBER], load=load_report)
@blp.arguments(ReportPatchSchema)
@blp.response(200, ReportSchema)
def patch_report(data: dict[str, Any], report: Any) -> Any:
    """Edit a draft or returned report; expense lines are replaced as a whole."""
    user = current_user()
    return presenters.report_out(services.update_report(report, data, actor=user), user)


@blp.route("/reports/<int:report_id>/transitions", methods=["POST"])
@blp.doc(
    operationId="fireReportEvent",
    description=(
        "City members submit (no rate for a line's currency and month: 409 rate_missing); finance"
        " officers return with a comment or accept with adjustments. Honours `Idempotency-Key`."
    ),
)
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER], load=load_report, idempotent=True)
@blp.arguments(ReportTransitionSchema)
@blp.response(200, ReportSchema)
def transition_report(data: dict[str, Any], report: Any) -> Any:
    """Submit (city), return with a comment or accept with adjustments (finance)."""
    user = current_user()
    return presenters.report_out(services.transition_report(report, data, actor=user), user)


@blp.route("/reports/<int:report_id>/attachments", methods=["POST"])
@blp.doc(
    operationId="uploadReceipt",
    description=(
        "City members of the grant's city. Checked by its bytes: PDF, PNG, JPEG or an ASiC-E/S "
        "container (else 415); larger than MAX_UPLOAD_MB 413."
    ),
)
@endpoint(roles=[CITY_MEMBER], load=load_report)
@blp.arguments(UploadFormSchema, location="form")
@blp.arguments(UploadSchema, location="files")
@blp.response(201, AttachmentSchema)
def upload(form: dict[str, Any], files: dict[str, Any], report: Any) -> Any:
    """Upload a receipt (PDF, PNG, JPEG, .asice/.bdoc/.edoc) to the report or one of its lines."""
    storage = files["file"]
    if not hasattr(storage, "read"):
        raise Unprocessable.field("file", "Send the file as multipart form data.", "files")
    return services.add_attachment(
        report,
        storage.filename or "receipt",
        storage.read(),
        expense_id=form.get("expense_id"),
        actor=current_user(),
    )


@blp.route("/attachments/<int:attachment_id>", methods=["GET"])
@blp.doc(
    operationId="downloadReceipt",
    description=(
        "Within scope. Named `receipt-<id>.<ext>` by the bytes' type, the original name as RFC "
        "6266 `filename*`."
    ),
)
@endpoint()
@blp.response(200, description="The file")
@blp.doc(
    responses={
        200: {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in receipts.EXTENSIONS
            },
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="receipt-<id>.<ext>"; '
                    "filename*=UTF-8''<the original name>",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        }
    }
)
def download(attachment_id: int) -> Any:
    """Download a receipt (within your scope)."""
    attachment = scope.get_attachment(current_user(), attachment_id)
    return receipts.receipt_response(
        attachment.id, attachment.content_type, attachment.file_name, attachment.content
    )
