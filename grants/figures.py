"""Money figures of grants and titles, always derived from the records, never typed in."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import with_expression

from grants.budget.models import TitleYear, YearFigures
from grants.budget.services import budget_of, committed_in_year
from grants.cities.models import Title
from grants.extensions import db
from grants.grant.models import Grant, GrantFigures
from grants.payouts.models import Payout
from grants.reports.models import ExpenseLine, Report

if TYPE_CHECKING:
    from grants.grant.models import Grant


def grant_figures(grant: Grant) -> GrantFigures:
    """The figures of ``grant``: those loaded with it (:func:`with_figures`), else queried."""
    loaded = [getattr(grant, name) for name in LOADED]
    if None not in loaded:
        return _figures(grant.state, grant.approved_cents, *loaded)
    return figures_for([(grant.id, grant.state, grant.approved_cents)])[grant.id]


def no_figures(grant: Grant) -> GrantFigures:
    """The figures of a grant that has no payouts and no reports yet (a new proposal)."""
    return _figures(grant.state, grant.approved_cents, 0, 0, 0, 0)


#: The attributes of ``Grant`` that :func:`with_figures` fills (``query_expression``).
LOADED = (
    "loaded_paid_cents",
    "loaded_recovered_cents",
    "loaded_reported_cents",
    "loaded_eligible_cents",
)


@functools.cache
def _figure_columns() -> tuple[Any, Any, Any, Any]:
    """Paid, recovered, reported and accepted eligible EUR of the grant of the enclosing query.

    Correlated scalar subqueries on ``grants.id``: the figures ride along with the grant's row,
    for one grant or a page of them, in the same statement.
    """

    def paid(kinds: tuple[str, ...]) -> Any:
        return (
            select(func.coalesce(func.sum(Payout.amount_cents), 0))
            .where(Payout.grant_id == Grant.id, Payout.state == "paid", Payout.kind.in_(kinds))
            .correlate(Grant)
            .scalar_subquery()
        )

    def reported(amount: Any, states: tuple[str, ...]) -> Any:
        return (
            select(func.coalesce(func.sum(amount), 0))
            .select_from(ExpenseLine)
            .join(Report, ExpenseLine.report_id == Report.id)
            .where(Report.grant_id == Grant.id, Report.state.in_(states))
            .correlate(Grant)
            .scalar_subquery()
        )

    accepted_eligible = func.coalesce(
        ExpenseLine.adjusted_eligible_cents, ExpenseLine.eligible_eur_cents, 0
    )
    return (
        paid(("advance", "balance")),
        paid(("recovery",)),
        reported(func.coalesce(ExpenseLine.amount_eur_cents, 0), ("submitted", "accepted")),
        reported(accepted_eligible, ("accepted",)),
    )


@functools.cache
def with_figures() -> tuple[Any, ...]:
    """Loader options that fill a grant's figures in the statement that loads the grant.

    Built once: constructing them (four correlated subqueries) cost a quarter of a grant
    read's time when it was done per request; the options are immutable and reusable.
    """
    return tuple(
        with_expression(getattr(Grant, name), column)
        for name, column in zip(LOADED, _figure_columns(), strict=True)
    )


def figures_for(grants: Iterable[tuple[int, str, int | None]]) -> dict[int, GrantFigures]:
    """Figures of many grants, given as (id, state, approved cents), in one query."""
    grants = list(grants)
    sums: dict[int, tuple[int, int, int, int]] = {}
    for chunk in _chunks([g[0] for g in grants], 500):
        for grant_id, *figures in db.session.execute(
            select(Grant.id, *_figure_columns()).where(Grant.id.in_(chunk))
        ):
            sums[grant_id] = tuple(figures)  # type: ignore[assignment]
    return {
        grant_id: _figures(state, approved, *sums.get(grant_id, (0, 0, 0, 0)))
        for grant_id, state, approved in grants
    }


def _figures(
    state: str, approved: int | None, paid: Any, recovered: Any, reported: Any, eligible: Any
) -> GrantFigures:
    # int(): PostgreSQL sums a BIGINT as NUMERIC (a Decimal in Python).
    return GrantFigures(
        state=state,
        approved=approved or 0,
        paid=int(paid),
        recovered=int(recovered),
        reported_eur=int(reported),
        eligible_eur=int(eligible),
    )


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def paid_cents_by_titles(title_ids: list[int]) -> dict[int, int]:
    """Advances and balances paid under each title, in one grouped query."""
    if not title_ids:
        return {}
    rows = db.session.execute(
        select(Grant.title_id, func.sum(Payout.amount_cents))
        .join(Grant, Payout.grant_id == Grant.id)
        .where(
            Grant.title_id.in_(title_ids),
            Payout.state == "paid",
            Payout.kind.in_(("advance", "balance")),
        )
        .group_by(Grant.title_id)
    )
    paid = dict.fromkeys(title_ids, 0)
    paid.update({title_id: int(total or 0) for title_id, total in rows})
    return paid


def paid_cents_by_title(title_id: int) -> int:
    """Advances and balances paid under a title (recoveries are shown apart)."""
    return paid_cents_by_titles([title_id])[title_id]


def year_figures(year: int) -> YearFigures:
    """The money of a title year: its budget, what its titles committed (the sum of their cap
    counters), and the advances and balances paid and the recoveries received under them."""
    paid, recovered = db.session.execute(
        select(
            func.coalesce(
                func.sum(
                    case((Payout.kind.in_(("advance", "balance")), Payout.amount_cents), else_=0)
                ),
                0,
            ),
            func.coalesce(
                func.sum(case((Payout.kind == "recovery", Payout.amount_cents), else_=0)), 0
            ),
        )
        .join(Grant, Payout.grant_id == Grant.id)
        .join(Title, Grant.title_id == Title.id)
        .where(Title.year == year, Payout.state == "paid")
    ).one()
    return YearFigures(
        year=year,
        budget=budget_of(year),
        committed=committed_in_year(year),
        paid=int(paid),
        recovered=int(recovered),
    )


def title_years() -> list[int]:
    """Every title year: of the titles awarded, and of the budgets set, newest first."""
    years = set(db.session.scalars(select(Title.year).distinct()))
    years |= set(
        db.session.scalars(select(TitleYear.year).where(TitleYear.budget_cents.is_not(None)))
    )
    return sorted(years, reverse=True)
