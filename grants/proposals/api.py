"""HTTP API of pilot grants: propose, list, read, edit, move along, and the history."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from grants import audit
from grants.auth import current_user, endpoint
from grants.cities.models import Title
from grants.extensions import db
from grants.proposals import services
from grants.proposals.figures import no_figures
from grants.proposals.schemas import (
    AuditEventSchema,
    GrantCreateSchema,
    GrantPatchSchema,
    GrantQuerySchema,
    GrantSchema,
    GrantTransitionSchema,
)
from grants.schemas import paginate, pagination_headers
from grants.users.models import User
from workflows.grant import CITY_MEMBER, FINANCE_OFFICER

blp = Blueprint("grants", __name__, description="Pilot grants and their life")


def load_grant(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The grant of the URL, in the caller's scope (404 outside it); locked for writes."""
    grant_id = kwargs.pop("grant_id")
    kwargs["grant"] = services.get_grant(user, grant_id, for_update=request.method != "GET")
    return kwargs


def load_grant_out(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The grant of the URL for reading, with its figures, in one statement (404 outside)."""
    kwargs["grant"] = services.get_grant(user, kwargs.pop("grant_id"), figures=True)
    return kwargs


def precheck_proposer(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A member's city must be eligible (409) before the body is looked at; keeps the title."""
    if user.role == CITY_MEMBER:
        kwargs["title"] = services.check_can_propose(user)
    return kwargs


@blp.route("/grants", methods=["POST"])
@endpoint(roles=[CITY_MEMBER], load=precheck_proposer)
@blp.arguments(GrantCreateSchema)
@blp.response(201, GrantSchema)
def create_grant(data: dict[str, Any], title: Title) -> Any:
    """Propose a pilot (in draft) for your city and its current title."""
    user = current_user()
    grant = services.create_grant(data, actor=user, title=title)
    return services.grant_out(grant, user, figures=no_figures(grant))


@blp.route("/grants", methods=["GET"])
@endpoint()
@blp.arguments(GrantQuerySchema, location="query")
@blp.response(200, GrantSchema(many=True))
def list_grants(query: dict[str, Any]) -> Any:
    """The grants you may see, filtered by state, city or title year; paginated."""
    user = current_user()
    page, size = query.pop("page"), query.pop("page_size")
    grants, meta = paginate(db.session, services.list_query(user, query, figures=True), page, size)
    return services.grants_out(grants, user), pagination_headers(meta)


@blp.route("/grants/<int:grant_id>", methods=["GET"])
@endpoint(load=load_grant_out)
@blp.response(200, GrantSchema)
def get_grant(grant: Any) -> Any:
    """One grant, with the events you may fire on it now."""
    return services.grant_out(grant, current_user())


@blp.route("/grants/<int:grant_id>", methods=["PATCH"])
@endpoint(roles=[CITY_MEMBER], load=load_grant)
@blp.arguments(GrantPatchSchema)
@blp.response(200, GrantSchema)
def patch_grant(data: dict[str, Any], grant: Any) -> Any:
    """Edit a proposal in draft or changes_requested; budget lines are replaced as a whole."""
    user = current_user()
    services.update_grant(grant, data, actor=user)
    return services.grant_out(grant, user)


@blp.route("/grants/<int:grant_id>/transitions", methods=["POST"])
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER], load=load_grant, idempotent=True)
@blp.arguments(GrantTransitionSchema)
@blp.response(200, GrantSchema)
def transition_grant(data: dict[str, Any], grant: Any) -> Any:
    """Fire an event of the grant's life (submit, approve, reject, close, …)."""
    user = current_user()
    services.transition_grant(
        grant,
        data["event"],
        actor=user,
        comment=data.get("comment"),
        approved_amount=data.get("approved_amount"),
    )
    return services.grant_out(grant, user)


@blp.route("/grants/<int:grant_id>/history", methods=["GET"])
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
