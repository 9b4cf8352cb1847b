"""Firing a workflow event from a service: the common checks, the move, and its audit event.

The three lifecycles (grant, report, payout) share the order of api.md: the role (403), a
required comment (422), then the state (409, checked by the caller after its own 422s).
"""

from __future__ import annotations

from typing import Any

from grants import audit
from grants.audit import Action
from grants.errors import Forbidden, Unprocessable
from grants.extensions import db
from grants.users.models import User
from workflows.table import Transition, Workflow


def precheck(
    workflow: Workflow, event: str, role: str, comment: str | None, *, what: str
) -> tuple[Transition, str | None]:
    """The row of ``event`` if ``role`` may fire it, and the comment cleaned (None if blank)."""
    row = workflow.transition(event)
    if role not in row.roles:
        raise Forbidden(f"The role '{role}' may not {event.replace('_', ' ')} {what}.")
    comment = (comment or "").strip() or None
    if row.comment_required and not comment:
        raise Unprocessable.field("comment", f"A comment is required to {event.replace('_', ' ')}.")
    return row, comment


def fire_and_record(
    workflow: Workflow,
    obj: Any,
    event: str,
    *,
    actor: User,
    action: Action,
    comment: str | None,
    data: dict[str, Any],
) -> None:
    """Move ``obj`` along ``event`` and record it (from → to) in the same transaction."""
    before = getattr(obj, workflow.attribute)
    workflow.fire(obj, event)
    db.session.flush()
    audit.log(
        action,
        obj,
        actor=actor,
        from_state=before,
        to_state=getattr(obj, workflow.attribute),
        comment=comment,
        data=data,
    )
