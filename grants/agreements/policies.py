"""Who may sign or countersign a grant agreement now, and whether money may move under it.

Each rule once, as a Verdict (see ``grants.errors``): the services enforce these, the payout
rules (``grants.payouts.policies.payout_terms``) ask :func:`may_pay_under_agreement`, and the
grant page reads them to offer only what would pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from grants.agreements.models import GrantAgreement
from grants.errors import (
    ALLOWED,
    AgreementMissing,
    Forbidden,
    InvalidTransition,
    Verdict,
    refuse,
)
from grants.extensions import db
from grants.users.models import User
from workflows.agreement import AGREEMENT, AWAITING_CITY, STATE_LABELS

if TYPE_CHECKING:
    from grants.grant.models import Grant


def agreement_in_force(grant_id: int) -> GrantAgreement | None:
    """The newest version of the grant's agreement (None before approval)."""
    return db.session.scalars(
        select(GrantAgreement)
        .where(GrantAgreement.grant_id == grant_id)
        .order_by(GrantAgreement.version.desc())
        .limit(1)
    ).first()


def may_pay_under_agreement(grant: Grant) -> Verdict:
    """No advance or balance before the version in force is signed by the city and countersigned
    (409 ``agreement_missing``)."""
    agreement = agreement_in_force(grant.id)
    if agreement is None:
        return refuse(AgreementMissing("This grant has no agreement yet."))
    if not agreement.is_signed:
        who = (
            "the city's signature"
            if agreement.state == AWAITING_CITY
            else "the countersignature of a finance officer or an admin"
        )
        return refuse(
            AgreementMissing(
                f"The grant agreement (version {agreement.version}) is not signed by both "
                f"parties yet: waiting for {who}."
            )
        )
    return ALLOWED


def may_fire_agreement_event(agreement: GrantAgreement, event: str, user: User) -> Verdict:
    """The city's team signs, then a finance officer or admin countersigns: the role first
    (403), then the state (409 ``invalid_transition``)."""
    row = AGREEMENT.transition(event)
    if user.role not in row.roles:
        who = "a city's team" if event == "sign" else "finance officers and admins"
        return refuse(Forbidden(f"The agreement is {event}ed by {who}."))
    if agreement.state not in row.sources:
        return refuse(
            InvalidTransition(
                f"This cannot be done now: the agreement (version {agreement.version}) is "
                f"{STATE_LABELS[agreement.state].lower()}."
            )
        )
    return ALLOWED


def agreement_events(agreement: GrantAgreement | None, user: User) -> list[str]:
    """The agreement events ``user`` may fire now (for the page's buttons)."""
    if agreement is None:
        return []
    return [e for e in AGREEMENT.events if may_fire_agreement_event(agreement, e, user)]
