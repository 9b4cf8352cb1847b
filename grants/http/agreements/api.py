"""HTTP API of grant agreements."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from grants.agreements import services
from grants.http.agreements import presenters
from grants.http.agreements.schemas import AgreementSchema, AgreementTransitionSchema
from grants.http.auth import current_user, endpoint
from grants.http.loaders import load_grant
from workflows.grant import ADMIN, CITY_MEMBER, FINANCE_OFFICER

blp = Blueprint("agreements", __name__, description="The grant agreement, signed by both sides")


@blp.route("/grants/<int:grant_id>/agreement", methods=["GET"])
@blp.doc(
    operationId="getAgreement",
    description=(
        "Within scope. The version in force (the newest); 404 before approval, when none was "
        "issued. `sha256` is the hash of the PDF served by the file operation."
    ),
)
@endpoint(load=load_grant)
@blp.response(200, AgreementSchema)
def get_agreement(grant: Any) -> Any:
    """The grant agreement in force and its signatures."""
    return presenters.agreement_out(services.get_agreement(grant))


@blp.route("/grants/<int:grant_id>/agreement/file", methods=["GET"])
@blp.doc(
    operationId="downloadAgreement",
    description=(
        "Within scope. The PDF of the version in force, the same bytes every time (their "
        "SHA-256 is the agreement's `sha256`); 404 before approval."
    ),
)
@endpoint(load=load_grant)
@blp.response(200, description="The agreement as a PDF")
@blp.doc(
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": 'inline; filename="grant-agreement-<grant>-v<version>.pdf"',
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        }
    }
)
def download_agreement(grant: Any) -> Any:
    """Download the grant agreement (PDF)."""
    return presenters.agreement_file(services.get_agreement(grant))


@blp.route("/grants/<int:grant_id>/agreement/transitions", methods=["POST"])
@blp.doc(
    operationId="fireAgreementEvent",
    description=(
        "City members of the grant's city `sign` with `signatory_name` (their full name, "
        "required: 422 without it); the time, the address and the PDF's SHA-256 are recorded. "
        "Finance officers and admins then `countersign`. Another role 403; a wrong state (signed "
        "twice, countersigned before the city) 409 invalid_transition; 404 before approval. "
        "Honours `Idempotency-Key`."
    ),
)
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER, ADMIN], load=load_grant, idempotent=True)
@blp.arguments(AgreementTransitionSchema)
@blp.response(200, AgreementSchema)
def fire_agreement_event(data: dict[str, Any], grant: Any) -> Any:
    """Sign the grant agreement (the city) or countersign it (finance, admin)."""
    agreement = services.get_agreement(grant)
    services.transition_agreement(
        agreement, data, actor=current_user(), address=request.remote_addr
    )
    return presenters.agreement_out(agreement)
