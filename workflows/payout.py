"""The life of a payout: authorised by one finance officer, confirmed or cancelled by staff."""

from workflows.grant import FINANCE_OFFICER
from workflows.table import Transition, Workflow

AUTHORISED = "authorised"
PAID = "paid"
CANCELLED = "cancelled"
STATES = (AUTHORISED, PAID, CANCELLED)
STATE_LABELS = {AUTHORISED: "Authorised", PAID: "Paid", CANCELLED: "Cancelled"}
#: What the buttons of the events say.
EVENT_LABELS = {"confirm_paid": "Confirm paid", "cancel": "Cancel payout"}

ADVANCE = "advance"
BALANCE = "balance"
RECOVERY = "recovery"
KINDS = (ADVANCE, BALANCE, RECOVERY)
#: Kinds that pay money out (recoveries bring it back).
OUTGOING = (ADVANCE, BALANCE)
#: States in which a payout counts against the approved amount.
LIVE = (AUTHORISED, PAID)

PAYOUT = Workflow(
    name="payout",
    states=STATES,
    initial=AUTHORISED,
    state_labels=STATE_LABELS,
    event_labels=EVENT_LABELS,
    transitions=(
        Transition("confirm_paid", (AUTHORISED,), PAID, (FINANCE_OFFICER,)),
        Transition(
            "cancel",
            (AUTHORISED,),
            CANCELLED,
            (FINANCE_OFFICER,),
            comment_required=True,
            final=True,
        ),
    ),
)
