"""The life of a pilot grant, as in the programme's rules (domain.md)."""

from workflows.table import SYSTEM, Transition, Workflow

CITY_MEMBER = "city_member"
FINANCE_OFFICER = "finance_officer"
MENTOR = "mentor"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (CITY_MEMBER, FINANCE_OFFICER, MENTOR, AUDITOR, ADMIN)
#: The English names of the roles (and of the service's own pseudo-role in the tables).
ROLE_LABELS = {
    CITY_MEMBER: "City team",
    FINANCE_OFFICER: "Finance officer",
    MENTOR: "Mentor",
    AUDITOR: "Auditor",
    ADMIN: "Administrator",
    SYSTEM: "System",
}

DRAFT = "draft"
SUBMITTED = "submitted"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
DISBURSED = "disbursed"
INTERIM_REPORTED = "interim_reported"
FINAL_REPORTED = "final_reported"
CLOSED = "closed"
TERMINATED = "terminated"

STATES = (
    DRAFT,
    SUBMITTED,
    CHANGES_REQUESTED,
    APPROVED,
    REJECTED,
    WITHDRAWN,
    DISBURSED,
    INTERIM_REPORTED,
    FINAL_REPORTED,
    CLOSED,
    TERMINATED,
)
STATE_LABELS = {
    DRAFT: "Draft",
    SUBMITTED: "Submitted",
    CHANGES_REQUESTED: "Changes requested",
    APPROVED: "Approved",
    REJECTED: "Rejected",
    WITHDRAWN: "Withdrawn",
    DISBURSED: "Advance paid",
    INTERIM_REPORTED: "Interim report accepted",
    FINAL_REPORTED: "Final report accepted",
    CLOSED: "Closed",
    TERMINATED: "Terminated",
}
#: What the buttons of the events say (the system's own events are named for the history).
EVENT_LABELS = {
    "submit": "Submit proposal",
    "request_changes": "Request changes",
    "approve": "Approve",
    "reject": "Reject",
    "withdraw": "Withdraw proposal",
    "advance_paid": "Advance paid",
    "interim_accepted": "Interim report accepted",
    "final_accepted": "Final report accepted",
    "close": "Close grant",
    "terminate": "Terminate grant",
}

#: States in which a proposal can still be edited by its city.
EDITABLE = (DRAFT, CHANGES_REQUESTED)
#: States whose approved amount counts against the title's cap in full.
COMMITTED = (APPROVED, DISBURSED, INTERIM_REPORTED, FINAL_REPORTED)
#: States that end a grant after approval: only what was paid minus recovered stays committed.
ENDED = (CLOSED, TERMINATED)

GRANT = Workflow(
    name="grant",
    states=STATES,
    initial=DRAFT,
    state_labels=STATE_LABELS,
    event_labels=EVENT_LABELS,
    transitions=(
        Transition("submit", (DRAFT, CHANGES_REQUESTED), SUBMITTED, (CITY_MEMBER,)),
        Transition(
            "request_changes",
            (SUBMITTED,),
            CHANGES_REQUESTED,
            (FINANCE_OFFICER,),
            comment_required=True,
        ),
        Transition("approve", (SUBMITTED,), APPROVED, (FINANCE_OFFICER,)),
        Transition(
            "reject", (SUBMITTED,), REJECTED, (FINANCE_OFFICER,), comment_required=True, final=True
        ),
        Transition(
            "withdraw", (DRAFT, SUBMITTED, CHANGES_REQUESTED), WITHDRAWN, (CITY_MEMBER,), final=True
        ),
        Transition("advance_paid", (APPROVED,), DISBURSED, (SYSTEM,)),
        Transition("interim_accepted", (DISBURSED,), INTERIM_REPORTED, (SYSTEM,)),
        Transition("final_accepted", (INTERIM_REPORTED,), FINAL_REPORTED, (SYSTEM,)),
        Transition("close", (FINAL_REPORTED,), CLOSED, (FINANCE_OFFICER,), final=True),
        Transition(
            "terminate",
            (APPROVED, DISBURSED, INTERIM_REPORTED),
            TERMINATED,
            (FINANCE_OFFICER,),
            comment_required=True,
            final=True,
        ),
    ),
)
