"""Comments on grants: shared with the city or internal to staff and mentors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from grants import audit
from grants.audit import Action
from grants.comments.models import Comment
from grants.errors import Forbidden
from grants.extensions import db
from grants.grant.models import Grant
from grants.users.models import User
from workflows.grant import AUDITOR, CITY_MEMBER

#: Who may write comments (auditors read only; city members only shared ones).
COMMENTERS = ("city_member", "finance_officer", "mentor", "admin")


def sees_internal(user: User) -> bool:
    return user.role != CITY_MEMBER


def add_comment(grant: Grant, data: dict[str, Any], *, actor: User) -> Comment:
    if actor.role == AUDITOR or actor.role not in COMMENTERS:
        raise Forbidden("Auditors read comments but do not write them.")
    if data["visibility"] == "internal" and not sees_internal(actor):
        raise Forbidden("City members write shared comments only.")
    comment = Comment(
        grant_id=grant.id, author_id=actor.id, body=data["body"], visibility=data["visibility"]
    )
    db.session.add(comment)
    db.session.flush()
    audit.log(
        Action.COMMENT,
        comment,
        actor=actor,
        comment=comment.body,
        data={"comment_id": comment.id, "visibility": comment.visibility},
    )
    return comment


def list_comments(grant: Grant, user: User) -> list[Comment]:
    query = select(Comment).where(Comment.grant_id == grant.id)
    if not sees_internal(user):
        query = query.where(Comment.visibility == "shared")
    return list(db.session.scalars(query.order_by(Comment.id)))
