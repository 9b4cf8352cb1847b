"""The life of an interim or final report."""

from workflows.grant import CITY_MEMBER, FINANCE_OFFICER
from workflows.table import Transition, Workflow

DRAFT = "draft"
SUBMITTED = "submitted"
RETURNED = "returned"
ACCEPTED = "accepted"
STATES = (DRAFT, SUBMITTED, RETURNED, ACCEPTED)
STATE_LABELS = {DRAFT: "Draft", SUBMITTED: "Submitted", RETURNED: "Returned", ACCEPTED: "Accepted"}
#: What the buttons of the events say.
EVENT_LABELS = {
    "submit": "Submit report",
    "return": "Return to the city",
    "accept": "Accept the report",
}
EDITABLE = (DRAFT, RETURNED)

INTERIM = "interim"
FINAL = "final"
KINDS = (INTERIM, FINAL)

REPORT = Workflow(
    name="report",
    states=STATES,
    initial=DRAFT,
    state_labels=STATE_LABELS,
    event_labels=EVENT_LABELS,
    transitions=(
        Transition("submit", (DRAFT, RETURNED), SUBMITTED, (CITY_MEMBER,)),
        Transition("return", (SUBMITTED,), RETURNED, (FINANCE_OFFICER,), comment_required=True),
        Transition("accept", (SUBMITTED,), ACCEPTED, (FINANCE_OFFICER,), final=True),
    ),
)
