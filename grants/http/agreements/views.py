"""Pages: the city signs the grant agreement, finance countersigns, anyone in scope reads it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from grants import scope
from grants.agreements import services
from grants.http.agreements.presenters import agreement_file
from grants.http.agreements.schemas import AgreementTransitionSchema
from grants.http.web import act, drop_blank, me, page

bp = Blueprint("agreements_pages", __name__)


@bp.route("/grants/<int:grant_id>/agreement.pdf")
@page()
def download(grant_id: int) -> Any:
    """The agreement in force as issued (the same bytes as the API's file)."""
    grant = scope.get_grant(me(), grant_id)
    return agreement_file(services.get_agreement(grant))


@bp.route("/grants/<int:grant_id>/agreement/<any(sign, countersign):event>", methods=["POST"])
@page()
def transition(grant_id: int, event: str) -> Any:
    """Sign (the city, with its full name typed) or countersign (finance, admin)."""
    user = me()
    grant = scope.get_grant(user, grant_id, for_update=True)
    agreement = services.get_agreement(grant)
    raw = drop_blank(
        {"event": event, "signatory_name": request.form.get("signatory_name", "").strip()}
    )
    done = (
        "The agreement is signed: finance countersigns it next."
        if event == "sign"
        else "The agreement is countersigned: the advance may now be authorised."
    )
    return act(
        lambda: services.transition_agreement(
            agreement,
            AgreementTransitionSchema().load(raw),
            actor=user,
            address=request.remote_addr,
        ),
        success=done,
        back=url_for("pages.grant", grant_id=grant.id, _anchor="agreement"),
        keep=True,
        labels={"signatory_name": "Your full name"},
    )
