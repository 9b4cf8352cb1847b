"""HTTP API of pilot grants: propose, list, read, edit, move along, and the history."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from grants import audit, scope
from grants.cities.models import Title
from grants.extensions import db
from grants.figures import grant_figures, no_figures
from grants.grant import services
from grants.grant.models import SETTLING_EVENTS
from grants.http.auth import current_user, endpoint
from grants.http.grant import presenters
from grants.http.grant.schemas import (
    AuditEventSchema,
    GrantCreateSchema,
    GrantPatchSchema,
    GrantQuerySchema,
    GrantSchema,
    GrantTransitionSchema,
)
from grants.http.loaders import load_grant, load_grant_out
from grants.http.schemas import paginate, pagination_headers
from grants.users.models import User
from workflows.grant import CITY_MEMBER, FINANCE_OFFICER

blp = Blueprint("grants", __name__, description="Pilot grants and their life")


def precheck_proposer(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A member's city must be eligible (409) before the body is looked at; keeps the title."""
    if user.role == CITY_MEMBER:
        kwargs["title"] = services.check_can_propose(user)
    return kwargs


@blp.route("/grants", methods=["POST"])
@blp.doc(
    operationId="createGrant",
    description=(
        "City members. The city must be eligible today with a current title, checked before the "
        "body (409 city_not_eligible); dates inside the title's validity and `end_date` ≥ "
        "`start_date` (else 422)."
    ),
)
@endpoint(roles=[CITY_MEMBER], load=precheck_proposer)
@blp.arguments(GrantCreateSchema)
@blp.response(201, GrantSchema)
def create_grant(data: dict[str, Any], title: Title) -> Any:
    """Propose a pilot (in draft) for your city and its current title."""
    user = current_user()
    grant = services.create_grant(data, actor=user, title=title)
    return presenters.grant_out(grant, user, figures=no_figures(grant))


@blp.route("/grants", methods=["GET"])
@blp.doc(
    operationId="listGrants",
    description=(
        "Every signed-in user, within scope (a city member sees its city's grants, a mentor its "
        "assigned cities'). Paginated: totals in the `X-Pagination` header."
    ),
)
@endpoint()
@blp.arguments(GrantQuerySchema, location="query")
@blp.response(200, GrantSchema(many=True))
def list_grants(query: dict[str, Any]) -> Any:
    """The grants you may see, filtered by state, city or title year; paginated."""
    user = current_user()
    page, size = query.pop("page"), query.pop("page_size")
    grants, meta = paginate(db.session, scope.list_query(user, query, figures=True), page, size)
    return presenters.grants_out(grants, user), pagination_headers(meta)


@blp.route("/grants/<int:grant_id>", methods=["GET"])
@blp.doc(
    operationId="getGrant",
    description=(
        "Within scope; outside it 404. `available_events` lists the events the caller may fire now."
    ),
)
@endpoint(load=load_grant_out)
@blp.response(200, GrantSchema)
def get_grant(grant: Any) -> Any:
    """One grant, with the events you may fire on it now."""
    return presenters.grant_out(grant, current_user())


@blp.route("/grants/<int:grant_id>", methods=["PATCH"])
@blp.doc(
    operationId="updateGrant",
    description=(
        "City members of the grant's city, only in draft or changes_requested (else 409 "
        "invalid_transition). A PATCH that changes nothing records no event."
    ),
)
@endpoint(roles=[CITY_MEMBER], load=load_grant)
@blp.arguments(GrantPatchSchema)
@blp.response(200, GrantSchema)
def patch_grant(data: dict[str, Any], grant: Any) -> Any:
    """Edit a proposal in draft or changes_requested; budget lines are replaced as a whole."""
    user = current_user()
    services.update_grant(grant, data, actor=user)
    return presenters.grant_out(grant, user)


@blp.route("/grants/<int:grant_id>/transitions", methods=["POST"])
@blp.doc(
    operationId="fireGrantEvent",
    description=(
        "City members fire submit and withdraw; finance officers request_changes, approve (with "
        "`approved_amount`, default the requested amount), reject, close and terminate. A wrong "
        "state is 409 invalid_transition; the cap 409 cap_exceeded; closing while money is owed "
        "409 money_owed. Honours `Idempotency-Key`."
    ),
)
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER], load=load_grant, idempotent=True)
@blp.arguments(GrantTransitionSchema)
@blp.response(200, GrantSchema)
def transition_grant(data: dict[str, Any], grant: Any) -> Any:
    """Fire an event of the grant's life (submit, approve, reject, close, …)."""
    user = current_user()
    event = data["event"]
    services.transition_grant(
        grant,
        event,
        actor=user,
        comment=data.get("comment"),
        approved_amount=data.get("approved_amount"),
        figures=grant_figures(grant) if event in SETTLING_EVENTS else None,
    )
    return presenters.grant_out(grant, user)


@blp.route("/grants/<int:grant_id>/history", methods=["GET"])
@blp.doc(
    operationId="getGrantHistory",
    description="Within scope. City members do not see internal comments.",
)
@endpoint(load=load_grant)
@blp.response(200, AuditEventSchema(many=True))
def grant_history(grant: Any) -> Any:
    """The grant's audit trail, oldest first."""
    user = current_user()
    events = audit.grant_history(db.session, grant.id, include_internal=user.role != CITY_MEMBER)
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor": {"id": e.actor_id, "email": e.actor_email, "role": e.actor_role},
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "comment": e.comment,
            "data": e.data,
        }
        for e in events
    ]
