"""Pages: authorise a payout, confirm it paid (another officer), or cancel it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from grants import scope
from grants.errors import CapExceeded, OverApproved
from grants.figures import grant_figures
from grants.http.payouts.schemas import PayoutCreateSchema, PayoutTransitionSchema
from grants.http.web import act, drop_blank, me, page, require_role
from grants.money import typed_amount
from grants.payouts import services
from grants.scope import get_grant
from workflows.grant import FINANCE_OFFICER

bp = Blueprint("payouts_pages", __name__)


@bp.route("/grants/<int:grant_id>/payouts", methods=["POST"])
@page()
def authorise(grant_id: int) -> Any:
    user = me()
    grant = get_grant(user, grant_id, for_update=True)
    require_role(FINANCE_OFFICER)
    raw = drop_blank(
        {
            "kind": request.form.get("kind", ""),
            "amount": typed_amount(request.form.get("amount", "")),
        }
    )
    back = url_for("pages.grant", grant_id=grant.id, _anchor="payouts")
    return act(
        lambda: services.authorise_payout(
            grant, PayoutCreateSchema().load(raw), actor=user, figures=grant_figures(grant)
        ),
        success=f"The {raw.get('kind', '')} payout is authorised: another officer confirms it.",
        back=back,
        keep=True,
        about={OverApproved: "amount", CapExceeded: "amount"},
    )


@bp.route("/payouts/<int:payout_id>/<any(confirm_paid, cancel):event>", methods=["POST"])
@page()
def transition(payout_id: int, event: str) -> Any:
    user = me()
    payout = scope.get_payout(user, payout_id, for_update=True)
    require_role(FINANCE_OFFICER)
    raw = drop_blank(
        {
            "event": event,
            "paid_on": request.form.get("paid_on", "").strip(),
            "payment_reference": request.form.get("payment_reference", "").strip(),
            "comment": request.form.get("comment", "").strip(),
        }
    )
    back = request.form.get("back") or ""
    if back != "dashboard":
        back = url_for("pages.grant", grant_id=payout.grant_id, _anchor="payouts")
    else:
        back = url_for("pages.dashboard", _anchor="to-confirm")
    done = "confirmed as paid" if event == "confirm_paid" else "cancelled"
    return act(
        lambda: services.transition_payout(payout, PayoutTransitionSchema().load(raw), actor=user),
        success=f"Payout {payout.id} {done}.",
        back=back,
        keep=True,
    )
