"""Who may do what to a grant now: each rule once, as a Verdict (see ``grants.errors``).

The services enforce these verdicts; the pages read them to offer only what would pass.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from grants.cities.models import City, Title
from grants.cities.services import eligible_title
from grants.errors import (
    ALLOWED,
    AppError,
    CityNotEligible,
    Forbidden,
    InvalidTransition,
    MoneyOwed,
    Verdict,
    refuse,
)
from grants.extensions import db
from grants.grant.models import Grant, GrantFigures
from grants.money import format_money
from grants.users.models import User
from workflows.grant import CITY_MEMBER, EDITABLE, GRANT


def proposal_terms(user: User) -> tuple[Verdict, Title | None]:
    """Whether ``user`` may propose a pilot now, and the title it would be proposed under.

    A city's team proposes, for a city eligible today (checked before dates and amounts). The
    city and its titles are read in one statement.
    """
    if user.role != CITY_MEMBER:
        return refuse(Forbidden("Pilots are proposed by a city's team.")), None
    city = (
        db.session.scalars(
            select(City).options(joinedload(City.titles)).where(City.id == user.city_id)
        )
        .unique()
        .one_or_none()
    )
    if city is None:
        return refuse(CityNotEligible("Your account belongs to no city.")), None
    try:
        title = eligible_title(city)
    except AppError as exc:
        return refuse(exc), None
    set_committed_value(title, "city", city)  # the grant shows the city's name: no reload
    return ALLOWED, title


def may_propose(user: User) -> Verdict:
    """May ``user`` propose a pilot now (its city eligible, under a title valid today)?"""
    return proposal_terms(user)[0]


def may_edit_grant(grant: Grant, user: User) -> Verdict:
    """A city's team edits its proposal while it is a draft or changes were requested."""
    if user.role != CITY_MEMBER:
        return refuse(Forbidden("Proposals are edited by the city's team."))
    if grant.state not in EDITABLE:
        return refuse(
            InvalidTransition(
                "A proposal can be edited only while it is a draft or changes were requested; "
                f"this one is {GRANT.state_label(grant.state).lower()}."
            )
        )
    return ALLOWED


def may_close(figures: GrantFigures) -> Verdict:
    """A grant is closed only when nothing is owed either way (the balance paid, a recovery
    received)."""
    if figures.balance_due or figures.recovery_due:
        return refuse(
            MoneyOwed(
                f"Balance due {format_money(figures.balance_due)}, recovery due "
                f"{format_money(figures.recovery_due)}: settle it before closing."
            )
        )
    return ALLOWED
