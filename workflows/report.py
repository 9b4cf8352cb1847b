"""The life of an interim or final report."""

from workflows.grant import CITY_MEMBER, FINANCE_OFFICER
from workflows.table import Transition, Workflow

DRAFT = "draft"
SUBMITTED = "submitted"
RETURNED = "returned"
ACCEPTED = "accepted"
STATES = (DRAFT, SUBMITTED, RETURNED, ACCEPTED)
EDITABLE = (DRAFT, RETURNED)

INTERIM = "interim"
FINAL = "final"
KINDS = (INTERIM, FINAL)

REPORT = Workflow(
    name="report",
    states=STATES,
    initial=DRAFT,
    transitions=(
        Transition("submit", (DRAFT, RETURNED), SUBMITTED, (CITY_MEMBER,)),
        Transition("return", (SUBMITTED,), RETURNED, (FINANCE_OFFICER,), comment_required=True),
        Transition("accept", (SUBMITTED,), ACCEPTED, (FINANCE_OFFICER,), final=True),
    ),
)
