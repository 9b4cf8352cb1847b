"""Who may write which comments: the rule once, as a Verdict (see ``grants.errors``)."""

from __future__ import annotations

from grants.errors import ALLOWED, Forbidden, Verdict, refuse
from grants.users.models import User
from workflows.grant import ADMIN, CITY_MEMBER, FINANCE_OFFICER, MENTOR

#: Who may write comments (auditors read only; city members only shared ones).
COMMENTERS = (CITY_MEMBER, FINANCE_OFFICER, MENTOR, ADMIN)


def sees_internal(user: User) -> bool:
    """Internal comments are read by staff and mentors, not by the city's team."""
    return user.role != CITY_MEMBER


def may_comment(user: User, visibility: str) -> Verdict:
    """May ``user`` write a comment ``shared`` with the city, or ``internal`` to staff?"""
    if user.role not in COMMENTERS:
        return refuse(Forbidden("Auditors read comments but do not write them."))
    if visibility == "internal" and not sees_internal(user):
        return refuse(Forbidden("City members write shared comments only."))
    return ALLOWED
