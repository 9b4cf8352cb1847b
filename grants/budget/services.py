"""The programme budget of a title year: set by the admin, enforced on every raise of committed.

Lock order (the one rule that keeps concurrent approvals from exceeding the budget and from
deadlocking): a raise of committed money takes the **title year's row** first
(:func:`lock_year`), then the **title's row** (the cap's guarded UPDATE in
``grants.cities.services.commit_to_cap``). :func:`commit` is the only way to raise committed and
takes them in that order; releases (closing, terminating, a recovery) only lower committed and
take the title's row alone, which can never be waited for while holding it the other way round.
Setting the budget takes the year's row only. On SQLite every writer holds the database's
write lock from ``BEGIN IMMEDIATE`` on, so the order holds trivially.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from grants import audit
from grants.audit import Action
from grants.budget.models import TitleYear
from grants.cities.models import Title
from grants.cities.services import commit_to_cap
from grants.db import utcnow
from grants.errors import BudgetExceeded
from grants.extensions import db
from grants.money import format_money, shown_money
from grants.users.models import User


def lock_year(year: int) -> TitleYear:
    """The title year's row, created when missing, locked until the transaction ends.

    The row exists for every year an approval or a budget ever touched, so that approvals of
    a year without a budget still serialise with the admin setting one.
    """
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(TitleYear)
        .values(year=year, budget_cents=None, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["year"])
    )
    return db.session.scalars(
        select(TitleYear)
        .where(TitleYear.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def committed_in_year(year: int) -> int:
    """What the titles of ``year`` have committed together: the sum of their cap counters
    (approved amounts of live grants, paid − recovered of ended ones: the cap's definition)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Title.committed_cents), 0)).where(Title.year == year)
    )
    return int(total or 0)


def get_year(year: int) -> TitleYear | None:
    return db.session.get(TitleYear, year)


def budget_of(year: int) -> int | None:
    """The programme budget of ``year`` in cents; ``None`` when none is set (no limit)."""
    row = get_year(year)
    return None if row is None else row.budget_cents


def commit(title: Title, cents: int) -> None:
    """Raise the committed money of ``title`` by ``cents``: within the programme budget of its
    year (409 ``budget_exceeded``), then within its cap (409 ``cap_exceeded``), atomically.

    The year's row is locked first, then the title's (see the module's lock order): every raise
    of the year's committed money waits here for the one before, and reads the sum it left.
    """
    year = lock_year(title.year)
    if year.budget_cents is not None:
        committed = committed_in_year(title.year)
        if committed + cents > year.budget_cents:
            raise BudgetExceeded(
                f"Approving {shown_money(cents)} would exceed the programme budget of the "
                f"{title.year} title year: budget {shown_money(year.budget_cents)}, "
                f"committed {shown_money(committed)}, available "
                f"{shown_money(max(0, year.budget_cents - committed))}."
            )
    commit_to_cap(title.id, cents)


def set_budget(year: int, cents: int, *, actor: User) -> TitleYear:
    """Set the programme budget of ``year``; never below what the year has committed already
    (409 ``budget_exceeded``). Recorded in the audit trail with the value before and after."""
    row = lock_year(year)
    committed = committed_in_year(year)
    if cents < committed:
        raise BudgetExceeded(
            f"A budget of {shown_money(cents)} is below what the {year} title year has "
            f"committed already, {shown_money(committed)}: set at least that much."
        )
    before = row.budget_cents
    if before == cents:
        return row
    row.budget_cents = cents
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    db.session.flush()
    audit.log(
        Action.BUDGET_SET,
        row,
        actor=actor,
        data={
            "year": year,
            "from": format_money(before),
            "to": format_money(cents),
            "committed": format_money(committed),
        },
    )
    return row
