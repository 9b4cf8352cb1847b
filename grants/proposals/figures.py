"""Money figures of grants and titles, always derived from the records, never typed in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from grants.extensions import db
from workflows.grant import CLOSED, FINAL_REPORTED, TERMINATED

if TYPE_CHECKING:
    from grants.proposals.models import Grant

#: States in which what is owed either way is known (the final report is in, or the grant ended).
SETTLING = (FINAL_REPORTED, CLOSED, TERMINATED)


@dataclass(frozen=True)
class GrantFigures:
    state: str
    approved: int
    paid: int
    recovered: int
    reported_eur: int
    eligible_eur: int

    @property
    def cost(self) -> int:
        """What the grant cost the programme: paid − recovered."""
        return self.paid - self.recovered

    @property
    def balance_due(self) -> int:
        """What the programme still owes the city once the final report is accepted."""
        if self.state not in (FINAL_REPORTED, CLOSED):
            return 0
        return max(0, min(self.approved, self.eligible_eur) - self.paid)

    @property
    def recovery_due(self) -> int:
        """What the city owes back: paid − accepted eligible, less what it returned already."""
        if self.state not in SETTLING:
            return 0
        return max(0, self.paid - self.eligible_eur - self.recovered)


def grant_figures(grant: Grant) -> GrantFigures:
    return figures_for([(grant.id, grant.state, grant.approved_cents)])[grant.id]


def figures_for(grants: Iterable[tuple[int, str, int | None]]) -> dict[int, GrantFigures]:
    """Figures of many grants, given as (id, state, approved cents), in two grouped queries."""
    from grants.disbursements.models import Payout
    from grants.reports.models import ExpenseLine, Report

    grants = list(grants)
    ids = [g[0] for g in grants]
    paid: dict[int, dict[str, int]] = {i: {} for i in ids}
    reported: dict[int, int] = dict.fromkeys(ids, 0)
    eligible: dict[int, int] = dict.fromkeys(ids, 0)
    for chunk in _chunks(ids, 500):
        for grant_id, kind, total in db.session.execute(
            select(Payout.grant_id, Payout.kind, func.sum(Payout.amount_cents))
            .where(Payout.grant_id.in_(chunk), Payout.state == "paid")
            .group_by(Payout.grant_id, Payout.kind)
        ):
            paid[grant_id][kind] = int(total or 0)
        accepted_eligible = func.coalesce(
            ExpenseLine.adjusted_eligible_cents, ExpenseLine.eligible_eur_cents, 0
        )
        for grant_id, state, eur, elig in db.session.execute(
            select(
                Report.grant_id,
                Report.state,
                func.sum(func.coalesce(ExpenseLine.amount_eur_cents, 0)),
                func.sum(accepted_eligible),
            )
            .join(Report, ExpenseLine.report_id == Report.id)
            .where(Report.grant_id.in_(chunk), Report.state.in_(("submitted", "accepted")))
            .group_by(Report.grant_id, Report.state)
        ):
            reported[grant_id] += int(eur or 0)
            if state == "accepted":
                eligible[grant_id] += int(elig or 0)
    return {
        grant_id: GrantFigures(
            state=state,
            approved=approved or 0,
            paid=paid[grant_id].get("advance", 0) + paid[grant_id].get("balance", 0),
            recovered=paid[grant_id].get("recovery", 0),
            reported_eur=reported[grant_id],
            eligible_eur=eligible[grant_id],
        )
        for grant_id, state, approved in grants
    }


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def paid_cents_by_titles(title_ids: list[int]) -> dict[int, int]:
    """Advances and balances paid under each title, in one grouped query."""
    from grants.disbursements.models import Payout
    from grants.proposals.models import Grant

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
