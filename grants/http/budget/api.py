"""HTTP API of the programme budget per title year."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from grants.budget import services
from grants.figures import year_figures
from grants.http.auth import current_user, endpoint
from grants.http.budget import presenters
from grants.http.budget.schemas import BudgetPutSchema, TitleYearSchema, YearPathSchema
from workflows.grant import ADMIN, AUDITOR, FINANCE_OFFICER

blp = Blueprint(
    "title-years", __name__, description="The programme budget of each title year (the pot)"
)


@blp.route("/title-years/<int:year>/budget", methods=["PUT"])
@blp.doc(
    operationId="putTitleYearBudget",
    description=(
        "Admins. Sets the programme budget that all titles of the year share: from then on an "
        "approval that would bring the year's committed money above it is refused with 409 "
        "`budget_exceeded`. A budget below what the year has committed already is refused with "
        "409 `budget_exceeded`, and nothing changes."
    ),
)
@endpoint(roles=[ADMIN])
@blp.arguments(YearPathSchema, location="path")
@blp.arguments(BudgetPutSchema)
@blp.response(200, TitleYearSchema)
def put_budget(path: dict[str, Any], data: dict[str, Any], year: int) -> Any:
    """Set the programme budget of a title year."""
    services.set_budget(path["year"], data["budget"], actor=current_user())
    return presenters.year_out(year_figures(path["year"]))


@blp.route("/title-years/<int:year>", methods=["GET"])
@blp.doc(
    operationId="getTitleYear",
    description=(
        "Finance officers, auditors and admins. A year without a budget has `budget` and "
        "`available` null: no programme limit applies to it."
    ),
)
@endpoint(roles=[ADMIN, FINANCE_OFFICER, AUDITOR])
@blp.arguments(YearPathSchema, location="path")
@blp.response(200, TitleYearSchema)
def get_title_year(path: dict[str, Any], year: int) -> Any:
    """The programme budget of a title year with its committed, paid, recovered and available."""
    return presenters.year_out(year_figures(path["year"]))
