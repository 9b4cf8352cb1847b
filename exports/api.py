"""HTTP API of statements: request, follow, download."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from flask_smorest import Blueprint
from sqlalchemy import select

from exports import jobs, services
from exports.models import FINISHED, Export
from exports.schemas import ExportCreateSchema, ExportSchema
from grants import transaction
from grants.errors import Forbidden, NotReady
from grants.extensions import db
from grants.http.auth import current_user, endpoint
from grants.http.schemas import PageQuerySchema, paginate, pagination_headers
from grants.users.models import User
from workflows.grant import ADMIN, AUDITOR, FINANCE_OFFICER

blp = Blueprint("exports", __name__, description="Financial statements for auditors (XLSX)")
READERS = (AUDITOR, FINANCE_OFFICER, ADMIN)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def load_export(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    if user.role not in READERS:
        # Checked before the lookup, so that which export ids exist is not revealed.
        raise Forbidden("Statements are for auditors, finance officers and admins.")
    kwargs["export"] = services.get_export(kwargs.pop("export_id"))
    return kwargs


def file_content(export: Export, *, actor: User) -> bytes:
    """The workbook of a finished export; a GET records the download, a HEAD records nothing."""
    if request.method != "HEAD":
        return services.download(export, actor=actor)
    if export.status != FINISHED:
        raise NotReady(f"The statement is {export.status}: the file is not ready.")
    return db.session.scalar(select(Export.content).where(Export.id == export.id)) or b""


@blp.route("/exports", methods=["POST"])
@blp.doc(
    operationId="requestExport",
    description=(
        "Auditors, finance officers and admins. Answers 202 with the export and its `Location`; "
        "poll it until `status` is finished."
    ),
)
@endpoint(roles=READERS)
@blp.arguments(ExportCreateSchema)
@blp.response(
    202,
    ExportSchema,
    headers={
        "Location": {
            "description": "The export to poll: /api/v1/exports/{id}.",
            "required": True,
            "schema": {"type": "string", "example": "/api/v1/exports/7"},
        }
    },
)
def request_export(data: dict[str, Any]) -> Any:
    """Request a statement; it is built by a background job (poll the Location)."""
    kind = data.pop("kind")
    export = services.request_export(kind, data, actor=current_user())
    export_id = export.id
    transaction.after_commit(lambda: jobs.dispatch(export_id))  # the row is the truth
    location = url_for("exports.get_export", export_id=export.id)
    return export, {"Location": location}


@blp.route("/exports", methods=["GET"])
@blp.doc(
    operationId="listExports",
    description=(
        "Auditors, finance officers and admins. Paginated: totals in the `X-Pagination` header."
    ),
)
@endpoint(roles=READERS)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ExportSchema(many=True))
def list_exports(query: dict[str, Any]) -> Any:
    """Statements requested so far, newest first."""
    exports, meta = paginate(
        db.session, select(Export).order_by(Export.id.desc()), query["page"], query["page_size"]
    )
    return exports, pagination_headers(meta)


@blp.route("/exports/<int:export_id>", methods=["GET"])
@blp.doc(operationId="getExport", description="Auditors, finance officers and admins.")
@endpoint(roles=READERS, load=load_export)
@blp.response(200, ExportSchema)
def get_export(export: Export) -> Any:
    """Status and progress of a statement, read from its row."""
    return export


@blp.route("/exports/<int:export_id>/file", methods=["GET"])
@blp.doc(
    operationId="downloadExport",
    description=(
        "Auditors, finance officers and admins. 409 not_ready before the export is finished. The "
        "download is recorded in the audit trail."
    ),
)
@endpoint(roles=READERS, load=load_export, writes=True)
@blp.response(200, description="The XLSX workbook")
@blp.doc(
    responses={
        200: {
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="<the file name>"',
                    "required": True,
                    "schema": {"type": "string"},
                },
                "X-Content-SHA256": {
                    "description": "The SHA-256 of the file, 64 lowercase hex digits.",
                    "required": True,
                    "schema": {"type": "string"},
                },
            },
        }
    }
)
def download(export: Export) -> Any:
    """Download the workbook (409 not_ready before it is finished); the download is audited."""
    content = file_content(export, actor=current_user())
    response = Response(content, mimetype=XLSX)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.file_name}"'
    response.headers["X-Content-SHA256"] = export.sha256 or ""
    return response
