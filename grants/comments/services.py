"""Comments on grants: shared with the city or internal to staff and mentors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from grants import audit
from grants.audit import Action
from grants.comments.models import Comment
from grants.comments.policies import COMMENTERS as COMMENTERS  # read by the API's roles
from grants.comments.policies import may_comment, sees_internal
from grants.extensions import db
from grants.grant.models import Grant
from grants.users.models import User


def add_comment(grant: Grant, data: dict[str, Any], *, actor: User) -> Comment:
    may_comment(actor, data["visibility"]).enforce()
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
