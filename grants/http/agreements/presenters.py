"""A grant agreement as the API shows it."""

from __future__ import annotations

from typing import Any

from flask import Response

from grants.agreements.models import GrantAgreement


def agreement_out(agreement: GrantAgreement) -> dict[str, Any]:
    signer, countersigner = agreement.city_signed_by, agreement.countersigned_by
    return {
        "grant_id": agreement.grant_id,
        "version": agreement.version,
        "state": agreement.state,
        "sha256": agreement.sha256,
        "terms_sha256": agreement.terms_sha256,
        "issued_at": agreement.issued_at,
        "city_signed_by": agreement.city_signed_by_id,
        "city_signed_by_email": signer.email if signer else None,
        "city_signatory_name": agreement.city_signatory_name,
        "city_signed_at": agreement.city_signed_at,
        "countersigned_by": agreement.countersigned_by_id,
        "countersigned_by_email": countersigner.email if countersigner else None,
        "countersigned_at": agreement.countersigned_at,
    }


def agreement_file(agreement: GrantAgreement) -> Response:
    """The PDF as stored when it was issued (the bytes whose SHA-256 the API gives)."""
    return Response(
        agreement.content,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{agreement.file_name}"',
            "Cache-Control": "private, no-store",
            "X-Content-SHA256": agreement.sha256,
        },
    )
