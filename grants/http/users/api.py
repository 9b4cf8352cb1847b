"""HTTP API of sign-in tokens and users."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select

from grants import audit
from grants.audit import Action
from grants.db import utcnow
from grants.errors import Forbidden, NotFound, Unauthorized
from grants.extensions import db
from grants.http.auth import current_user, endpoint
from grants.http.schemas import PageQuerySchema, paginate, pagination_headers
from grants.http.users.schemas import (
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserPatchSchema,
    UserSchema,
)
from grants.users import services
from grants.users.credentials import issue_token, verify_credentials
from grants.users.models import User
from workflows.grant import ADMIN

blp = Blueprint("users", __name__, description="Sign-in tokens and users")


@blp.route("/auth/tokens", methods=["POST"])
@blp.doc(
    operationId="createToken",
    description=(
        "Anyone. The same 401 for an unknown email and a wrong password; 10 failures within 15 "
        "minutes lock the account for 5 (429). The token expires after TOKEN_TTL_HOURS."
    ),
)
@endpoint(public=True)
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.doc(security=[])
def create_token(data: dict[str, Any]) -> Any:
    """Sign in: exchange an email and password for a bearer token."""
    user = verify_credentials(data["email"], data["password"])
    if user is None:
        raise Unauthorized("Unknown email or wrong password.")
    raw, token = issue_token(user)
    audit.log(
        Action.TOKEN_ISSUED, user, actor=user, data={"expires_at": token.expires_at.isoformat()}
    )
    return {"token": raw, "expires_at": token.expires_at, "user": user}


@blp.route("/auth/tokens/current", methods=["DELETE"])
@blp.doc(
    operationId="revokeToken",
    description="Any signed-in user. The token is revoked at once; later requests with it get 401.",
)
@endpoint()
@blp.response(204)
def revoke_token() -> None:
    """Sign out: revoke the token of this request."""
    g.token.revoked_at = utcnow()


@blp.route("/users/me", methods=["GET"])
@blp.doc(
    operationId="getCurrentUser", description="Any signed-in user: who the bearer token belongs to."
)
@endpoint()
@blp.response(200, UserSchema)
def me() -> Any:
    """The signed-in user."""
    return current_user()


@blp.route("/users", methods=["POST"])
@blp.doc(
    operationId="createUser",
    description=(
        "Admins. A city member needs `city_id`; a mentor may get `mentor_city_ids`. No password "
        "or hash is ever returned."
    ),
)
@endpoint(roles=[ADMIN])
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(data: dict[str, Any]) -> Any:
    """Create a user of any role (admins only)."""
    return services.create_user(data, actor=current_user())


@blp.route("/users", methods=["GET"])
@blp.doc(
    operationId="listUsers",
    description=(
        "Admins. Paginated: `page`, `page_size` (at most 100); the totals are in the "
        "`X-Pagination` header."
    ),
)
@endpoint(roles=[ADMIN])
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserSchema(many=True))
def list_users(query: dict[str, Any]) -> Any:
    """All users (admins only); paginated."""
    users, meta = paginate(
        db.session, select(User).order_by(User.id), query["page"], query["page_size"]
    )
    return users, pagination_headers(meta)


def load_user(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    if user.role != ADMIN:
        raise Forbidden("Only admins manage users.")
    target = db.session.get(User, kwargs.pop("user_id"))
    if target is None:
        raise NotFound("No such user.")
    kwargs["target"] = target
    return kwargs


@blp.route("/users/<int:user_id>", methods=["GET"])
@blp.doc(operationId="getUser", description="Admins.")
@endpoint(roles=[ADMIN], load=load_user)
@blp.response(200, UserSchema)
def get_user(target: User) -> Any:
    """One user (admins only)."""
    return target


@blp.route("/users/<int:user_id>", methods=["PATCH"])
@blp.doc(
    operationId="updateUser",
    description=(
        "Admins. A password change, a deactivation or a role or city change revokes the user's "
        "tokens and page sessions; the last active admin cannot be deactivated or demoted (409 "
        "invalid_transition)."
    ),
)
@endpoint(roles=[ADMIN], load=load_user)
@blp.arguments(UserPatchSchema)
@blp.response(200, UserSchema)
def patch_user(data: dict[str, Any], target: User) -> Any:
    """Change a password, (de)activate an account, change a role (and its city), or reassign
    a mentor's cities. A new password, a deactivation or reactivation and a new role or city
    end every session and token of the user. The last active admin cannot be deactivated or
    demoted (409 ``invalid_transition``). A body that changes nothing records nothing."""
    return services.update_user(target, data, actor=current_user())
