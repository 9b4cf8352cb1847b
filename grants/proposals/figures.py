"""Money figures of grants and titles, always derived from the records, never typed in."""

from __future__ import annotations

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
    from grants.disbursements.models import Payout
    from grants.reports.models import ExpenseLine, Report

    paid = dict(
        db.session.execute(
            select(Payout.kind, func.coalesce(func.sum(Payout.amount_cents), 0))
            .where(Payout.grant_id == grant.id, Payout.state == "paid")
            .group_by(Payout.kind)
        ).all()
    )
    lines = db.session.execute(
        select(
            Report.state,
            ExpenseLine.amount_eur_cents,
            ExpenseLine.eligible_eur_cents,
            ExpenseLine.adjusted_eligible_cents,
        )
        .join(Report, ExpenseLine.report_id == Report.id)
        .where(Report.grant_id == grant.id, Report.state.in_(("submitted", "accepted")))
    ).all()
    reported = sum(line.amount_eur_cents or 0 for line in lines)
    eligible = sum(
        line.adjusted_eligible_cents
        if line.adjusted_eligible_cents is not None
        else (line.eligible_eur_cents or 0)
        for line in lines
        if line.state == "accepted"
    )
    return GrantFigures(
        state=grant.state,
        approved=grant.approved_cents or 0,
        paid=int(paid.get("advance", 0)) + int(paid.get("balance", 0)),
        recovered=int(paid.get("recovery", 0)),
        reported_eur=reported,
        eligible_eur=eligible,
    )


def paid_cents_by_title(title_id: int) -> int:
    """Advances and balances paid under a title (recoveries are shown apart)."""
    from grants.disbursements.models import Payout
    from grants.proposals.models import Grant

    total = db.session.scalar(
        select(func.coalesce(func.sum(Payout.amount_cents), 0))
        .join(Grant, Payout.grant_id == Grant.id)
        .where(
            Grant.title_id == title_id,
            Payout.state == "paid",
            Payout.kind.in_(("advance", "balance")),
        )
    )
    return int(total or 0)
