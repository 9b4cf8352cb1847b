"""Who may read and set a title year's programme budget: each rule once, as a Verdict."""

from __future__ import annotations

from grants.errors import ALLOWED, Forbidden, Verdict, refuse
from grants.users.models import User
from workflows.grant import ADMIN, AUDITOR, FINANCE_OFFICER

#: The programme staff who read the budget of a title year.
READERS = (ADMIN, FINANCE_OFFICER, AUDITOR)


def may_read_budget(user: User) -> Verdict:
    if user.role not in READERS:
        return refuse(Forbidden("The programme budget is shown to finance, auditors and admins."))
    return ALLOWED


def may_set_budget(user: User) -> Verdict:
    if user.role != ADMIN:
        return refuse(Forbidden("Only admins set the programme budget."))
    return ALLOWED
