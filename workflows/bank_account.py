"""The life of a city's bank account: proposed, then verified by another finance officer than
the proposer or rejected; a verified one, or a pending one replaced by a newer proposal, is
superseded (by the system, inside the verification or the proposal that replaces it)."""

from workflows.grant import FINANCE_OFFICER
from workflows.table import SYSTEM, Transition, Workflow

PENDING = "pending"
VERIFIED = "verified"
REJECTED = "rejected"
SUPERSEDED = "superseded"
STATES = (PENDING, VERIFIED, REJECTED, SUPERSEDED)
STATE_LABELS = {
    PENDING: "Waiting for verification",
    VERIFIED: "Verified, in force",
    REJECTED: "Rejected",
    SUPERSEDED: "Superseded",
}
#: What the buttons of the events say.
EVENT_LABELS = {"verify": "Verify", "reject": "Reject", "supersede": "Supersede"}
#: The events a finance officer fires on a pending account (the API's transitions).
DECISIONS = ("verify", "reject")

BANK_ACCOUNT = Workflow(
    name="bank_account",
    states=STATES,
    initial=PENDING,
    state_labels=STATE_LABELS,
    event_labels=EVENT_LABELS,
    transitions=(
        Transition("verify", (PENDING,), VERIFIED, (FINANCE_OFFICER,)),
        Transition("reject", (PENDING,), REJECTED, (FINANCE_OFFICER,), comment_required=True),
        Transition("supersede", (PENDING, VERIFIED), SUPERSEDED, (SYSTEM,)),
    ),
)
