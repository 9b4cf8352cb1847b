"""Pages: comments on a grant (shared with the city, or internal to staff and mentors)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from grants.comments import services
from grants.http.comments.schemas import CommentCreateSchema
from grants.http.web import act, drop_blank, me, page
from grants.scope import get_grant

bp = Blueprint("comments_pages", __name__)


@bp.route("/grants/<int:grant_id>/comments", methods=["POST"])
@page()
def add_comment(grant_id: int) -> Any:
    user = me()
    grant = get_grant(user, grant_id)
    raw = drop_blank(
        {
            "body": request.form.get("body", "").strip(),
            "visibility": request.form.get("visibility", "shared"),
        }
    )
    back = url_for("pages.grant", grant_id=grant.id, _anchor="comments")
    return act(
        lambda: services.add_comment(grant, CommentCreateSchema().load(raw), actor=user),
        success="Comment added.",
        back=back,
        keep=True,
    )
