"""The life of a grant agreement: the city signs, finance countersigns.

A version is issued on approval (and re-issued, version + 1, on an amendment of money or
dates); each version is signed by the city's team and then countersigned by a finance officer
or an admin. No advance is authorised before the version in force is signed by both.
"""

from workflows.grant import ADMIN, CITY_MEMBER, FINANCE_OFFICER
from workflows.table import Transition, Workflow

AWAITING_CITY = "awaiting_city"
AWAITING_COUNTERSIGNATURE = "awaiting_countersignature"
SIGNED = "signed"
STATES = (AWAITING_CITY, AWAITING_COUNTERSIGNATURE, SIGNED)
STATE_LABELS = {
    AWAITING_CITY: "Waiting for the city's signature",
    AWAITING_COUNTERSIGNATURE: "Waiting for the countersignature",
    SIGNED: "Signed by both",
}
#: What the buttons of the events say.
EVENT_LABELS = {"sign": "Sign the agreement", "countersign": "Countersign the agreement"}

AGREEMENT = Workflow(
    name="agreement",
    states=STATES,
    initial=AWAITING_CITY,
    state_labels=STATE_LABELS,
    event_labels=EVENT_LABELS,
    transitions=(
        Transition("sign", (AWAITING_CITY,), AWAITING_COUNTERSIGNATURE, (CITY_MEMBER,)),
        Transition(
            "countersign",
            (AWAITING_COUNTERSIGNATURE,),
            SIGNED,
            (FINANCE_OFFICER, ADMIN),
            final=True,
        ),
    ),
)
