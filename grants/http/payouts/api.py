"""HTTP API of payouts (disbursements)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from grants import scope
from grants.figures import grant_figures
from grants.http.auth import current_user, endpoint
from grants.http.loaders import load_grant
from grants.http.payouts import presenters
from grants.http.payouts.schemas import (
    PayoutCreateSchema,
    PayoutSchema,
    PayoutTransitionSchema,
)
from grants.payouts import services
from grants.users.models import User
from workflows.grant import FINANCE_OFFICER

blp = Blueprint("disbursements", __name__, description="Payouts with four eyes")


def load_payout(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    payout_id = kwargs.pop("payout_id")
    kwargs["payout"] = scope.get_payout(user, payout_id, for_update=request.method != "GET")
    return kwargs


@blp.route("/grants/<int:grant_id>/disbursements", methods=["POST"])
@blp.doc(
    operationId="authorisePayout",
    description=(
        "Finance officers. The amount defaults per kind (advance: ADVANCE_SHARE of the approved "
        "amount; balance and recovery: what is due); above what remains of the approved amount "
        "409 over_approved. Honours `Idempotency-Key`."
    ),
)
@endpoint(roles=[FINANCE_OFFICER], load=load_grant, idempotent=True)
@blp.arguments(PayoutCreateSchema)
@blp.response(201, PayoutSchema)
def authorise(data: dict[str, Any], grant: Any) -> Any:
    """Authorise an advance, a balance or a recovery; another officer confirms it."""
    payout = services.authorise_payout(
        grant, data, actor=current_user(), figures=grant_figures(grant)
    )
    return presenters.payout_out(payout)


@blp.route("/grants/<int:grant_id>/disbursements", methods=["GET"])
@blp.doc(operationId="listPayouts", description="Within scope.")
@endpoint(load=load_grant)
@blp.response(200, PayoutSchema(many=True))
def list_payouts(grant: Any) -> Any:
    """The grant's payouts, oldest first."""
    return [presenters.payout_out(p) for p in services.list_payouts(grant)]


@blp.route("/disbursements/<int:payout_id>", methods=["GET"])
@blp.doc(operationId="getPayout", description="Within scope.")
@endpoint(load=load_payout)
@blp.response(200, PayoutSchema)
def get_payout(payout: Any) -> Any:
    """One payout."""
    return presenters.payout_out(payout)


@blp.route("/disbursements/<int:payout_id>/transitions", methods=["POST"])
@blp.doc(
    operationId="firePayoutEvent",
    description=(
        "Finance officers. `confirm_paid` by another officer than the authoriser (else 409 "
        "four_eyes), with `paid_on` and `payment_reference`; `cancel` with a comment. Honours "
        "`Idempotency-Key`."
    ),
)
@endpoint(roles=[FINANCE_OFFICER], load=load_payout, idempotent=True)
@blp.arguments(PayoutTransitionSchema)
@blp.response(200, PayoutSchema)
def transition(data: dict[str, Any], payout: Any) -> Any:
    """Confirm a payout paid (date and bank reference) or cancel it (comment)."""
    services.transition_payout(payout, data, actor=current_user())
    return presenters.payout_out(payout)
