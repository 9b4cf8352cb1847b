"""Who may set exchange rates: the rule once, as a Verdict (see ``grants.errors``)."""

from __future__ import annotations

from grants.errors import ALLOWED, Forbidden, Verdict, refuse
from grants.users.models import User
from workflows.grant import ADMIN, FINANCE_OFFICER

#: Who sets the monthly rates (everyone reads them).
EDITORS = (ADMIN, FINANCE_OFFICER)


def may_edit_rates(user: User) -> Verdict:
    if user.role not in EDITORS:
        return refuse(Forbidden("Only finance officers and admins set exchange rates."))
    return ALLOWED
