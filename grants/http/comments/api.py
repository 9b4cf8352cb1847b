"""HTTP API of comments on a grant."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from grants.comments import services
from grants.http.auth import current_user, endpoint
from grants.http.comments.schemas import CommentCreateSchema, CommentSchema
from grants.http.loaders import load_grant

blp = Blueprint("comments", __name__, description="Comments on grants")


@blp.route("/grants/<int:grant_id>/comments", methods=["POST"])
@blp.doc(
    operationId="addComment",
    description=(
        "City members write shared comments; finance officers, mentors and admins shared or "
        "internal ones. Auditors read only."
    ),
)
@endpoint(roles=services.COMMENTERS, load=load_grant)
@blp.arguments(CommentCreateSchema)
@blp.response(201, CommentSchema)
def add_comment(data: dict[str, Any], grant: Any) -> Any:
    """Comment on a grant: shared (the city sees it) or internal (staff and mentors)."""
    return services.add_comment(grant, data, actor=current_user())


@blp.route("/grants/<int:grant_id>/comments", methods=["GET"])
@blp.doc(
    operationId="listComments",
    description="Within scope; internal comments are hidden from city members.",
)
@endpoint(load=load_grant)
@blp.response(200, CommentSchema(many=True))
def list_comments(grant: Any) -> Any:
    """The comments you may read, oldest first."""
    return services.list_comments(grant, current_user())
