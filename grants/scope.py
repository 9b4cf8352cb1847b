"""Who sees which grant: the scope clause, and the loaders that answer 404 outside it.

A city member sees the grants of their city, a mentor those of the cities they mentor, staff
and auditors all (domain.md, "People"). Objects of a grant (payouts, reports, files) are in
scope when their grant is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import defaultload, joinedload

from grants.cities.models import City, Title
from grants.errors import NotFound
from grants.extensions import db
from grants.figures import with_figures
from grants.grant.models import Grant
from grants.payouts.models import Payout
from grants.reports.models import Attachment, Report
from grants.users.models import User, mentor_assignments
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER, MENTOR


def scope_clause(user: User) -> Any:
    """The SQL condition of the grants ``user`` may see (domain.md, "People")."""
    if user.role in (FINANCE_OFFICER, AUDITOR, ADMIN):
        return True
    if user.role == CITY_MEMBER:
        return Grant.city_id == user.city_id
    if user.role == MENTOR:
        # A subquery rather than ``user.mentor_city_ids``: no statement to load the cities.
        return Grant.city_id.in_(
            select(mentor_assignments.c.city_id).where(mentor_assignments.c.user_id == user.id)
        )
    return False


#: A grant's city is loaded with it (to show its name), the city's titles only when asked for.
_CITY_ONLY = defaultload(Grant.city).lazyload(City.titles)


def get_grant(
    user: User, grant_id: int, *, for_update: bool = False, figures: bool = False
) -> Grant:
    """The grant if ``user`` may see it, else 404 (its existence is not revealed).

    One statement: the grant with its city, title and budget lines, and with ``figures`` its
    money figures too (``figures.grant_figures`` then needs no query). ``for_update`` locks
    the grant's row only.
    """
    query = (
        select(Grant)
        .options(_CITY_ONLY, joinedload(Grant.budget_lines))
        .where(Grant.id == grant_id, scope_clause(user))
    )
    if figures:
        query = query.options(*with_figures())
    if for_update:
        query = query.with_for_update(of=Grant)
    found = db.session.scalars(query).unique().one_or_none()
    if found is None:
        raise NotFound("No such grant.")
    return found


def get_in_scope(
    user: User, model: type[Any], object_id: int, label: str, *, for_update: bool = False
) -> Any:
    """A grant, or an object of a grant (``model.grant_id``), if ``user`` may see its grant.

    Outside the scope it is a 404, like an id that does not exist. ``for_update`` locks the
    object's row (only that row: the joined rows are not locked).
    """
    query = select(model)
    if model is not Grant:
        query = query.join(Grant, model.grant_id == Grant.id)
    query = query.where(model.id == object_id, scope_clause(user))
    if for_update:
        query = query.with_for_update(of=model)
    found = db.session.scalar(query)
    if found is None:
        raise NotFound(f"No such {label}.")
    return found


def list_in_scope(user: User, model: type[Any], *where: Any, order_by: Any) -> list[Any]:
    """Objects of grants (``model.grant_id``) that ``user`` may see, filtered and ordered."""
    return list(
        db.session.scalars(
            select(model)
            .join(Grant, model.grant_id == Grant.id)
            .where(scope_clause(user), *where)
            .order_by(*order_by)
        )
    )


def list_query(user: User, filters: dict[str, Any], *, figures: bool = False) -> Select[Any]:
    """The grants ``user`` may see, filtered; with ``figures`` their money figures ride along."""
    query = select(Grant).options(_CITY_ONLY).where(scope_clause(user))
    if figures:
        query = query.options(*with_figures())
    if "state" in filters:
        query = query.where(Grant.state == filters["state"])
    if "city_id" in filters:
        query = query.where(Grant.city_id == filters["city_id"])
    if "title_year" in filters:
        query = query.join(Title, Grant.title_id == Title.id).where(
            Title.year == filters["title_year"]
        )
    return query.order_by(Grant.id)


def get_payout(user: User, payout_id: int, *, for_update: bool = False) -> Payout:
    return get_in_scope(user, Payout, payout_id, "payout", for_update=for_update)


def payouts_in_state(user: User, state: str) -> list[Payout]:
    """The payouts in ``state`` among the grants ``user`` may see, oldest first."""
    return list_in_scope(
        user, Payout, Payout.state == state, order_by=(Payout.authorised_at, Payout.id)
    )


def get_report(user: User, report_id: int, *, for_update: bool = False) -> Report:
    return get_in_scope(user, Report, report_id, "report", for_update=for_update)


def get_attachment(user: User, attachment_id: int) -> Attachment:
    attachment = db.session.scalar(
        select(Attachment)
        .join(Report, Attachment.report_id == Report.id)
        .join(Grant, Report.grant_id == Grant.id)
        .where(Attachment.id == attachment_id, scope_clause(user))
    )
    if attachment is None:
        raise NotFound("No such file.")
    return attachment


def reports_in_state(user: User, state: str) -> list[Report]:
    """The reports in ``state`` among the grants ``user`` may see, oldest submission first."""
    return list_in_scope(
        user, Report, Report.state == state, order_by=(Report.submitted_at, Report.id)
    )
