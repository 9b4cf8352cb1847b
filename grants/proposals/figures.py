"""Money figures of grants and titles, always derived from the records, never typed in.

Payout and report records arrive with the payouts and reports packages; until a grant has
such records its paid, recovered, reported and eligible figures are zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grants.proposals.models import Grant


@dataclass(frozen=True)
class GrantFigures:
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
        return max(0, min(self.approved, self.eligible_eur) - self.paid)

    @property
    def recovery_due(self) -> int:
        """What the city owes back: paid − accepted eligible, net of what was recovered."""
        return max(0, self.paid - self.eligible_eur - self.recovered)


def grant_figures(grant: Grant) -> GrantFigures:
    return GrantFigures(
        approved=grant.approved_cents or 0, paid=0, recovered=0, reported_eur=0, eligible_eur=0
    )


def paid_cents_by_title(title_id: int) -> int:
    return 0
