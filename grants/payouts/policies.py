"""Who may authorise, confirm or cancel a payout now: each rule once, as a Verdict.

The services enforce these verdicts; the pages (the grant page, the finance officer's work
queue) read them to offer only what would pass: four eyes included.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from grants.agreements.policies import may_pay_under_agreement
from grants.banking.models import BankAccount
from grants.banking.services import account_in_force
from grants.errors import (
    ALLOWED,
    AccountChanged,
    AccountUnverified,
    Forbidden,
    FourEyes,
    InvalidTransition,
    Verdict,
    refuse,
)
from grants.extensions import db
from grants.grant.models import Grant, GrantFigures
from grants.money import share_of
from grants.payouts.models import Payout
from grants.users.models import User
from workflows.errors import TransitionNotAllowed
from workflows.grant import APPROVED, ENDED, FINAL_REPORTED, FINANCE_OFFICER, TERMINATED
from workflows.payout import (
    ADVANCE,
    AUTHORISED,
    BALANCE,
    KINDS,
    LIVE,
    OUTGOING,
    PAYOUT,
    RECOVERY,
)


def may_authorise_payouts(user: User) -> Verdict:
    """Only finance officers authorise payouts (of any kind, on any grant)."""
    if user.role != FINANCE_OFFICER:
        return refuse(Forbidden("Only finance officers authorise payouts."))
    return ALLOWED


def payout_terms(grant: Grant, kind: str, figures: GrantFigures) -> tuple[Verdict, int]:
    """Whether a payout of ``kind`` may be authorised on ``grant`` now, and its default amount.

    ``figures`` are the grant's money figures (``grants.figures.grant_figures``), read after the
    grant was locked. Returns (the verdict, refused with 409 ``invalid_transition`` and why;
    the default amount in cents, 0 when refused). The one place these rules live: the service
    enforces them, the pages offer only what passes.
    """
    live = [
        p
        for p in db.session.scalars(
            select(Payout).where(Payout.grant_id == grant.id).order_by(Payout.id)
        )
        if p.state in LIVE
    ]

    def no(message: str) -> tuple[Verdict, int]:
        return refuse(InvalidTransition(message)), 0

    if kind == ADVANCE:
        if grant.state != APPROVED:
            return no(f"An advance is paid once the grant is approved, not {grant.state}.")
        if any(p.kind == ADVANCE for p in live):
            return no("This grant has an advance already.")
        if not (signed := may_pay_under_agreement(grant)):
            return signed, 0
        return ALLOWED, share_of(grant.approved_cents or 0, current_app.config["ADVANCE_SHARE"])
    if kind == BALANCE:
        if grant.state != FINAL_REPORTED:
            return no("A balance is paid only after the final report is accepted.")
        if any(p.kind == BALANCE and p.state == AUTHORISED for p in live):
            # A part-paid balance may be followed by another; an unconfirmed one may not.
            return no("A balance payout is waiting for its confirmation.")
        due = figures.balance_due
        if due <= 0:
            return no("No balance is due: the city has been paid what it spent.")
        if not (signed := may_pay_under_agreement(grant)):
            return signed, 0
        return ALLOWED, due
    if grant.state not in (FINAL_REPORTED, TERMINATED):
        return no("A recovery is asked once the final report is accepted or the grant terminated.")
    pending = sum(p.amount_cents for p in live if p.kind == RECOVERY and p.state == AUTHORISED)
    owed = figures.recovery_due - pending
    if owed <= 0:
        return no("Nothing is owed back by the city.")
    return ALLOWED, owed


def account_to_pay(grant: Grant, kind: str) -> tuple[Verdict, BankAccount | None]:
    """The city's verified account an outgoing payout is authorised against, and the verdict.

    No verified account in force: refused with 409 ``account_unverified``. A recovery is paid
    by the city to the programme: it needs no account of the city.
    """
    if kind not in OUTGOING:
        return ALLOWED, None
    account = account_in_force(grant.city_id)
    if account is None:
        return refuse(AccountUnverified()), None
    return ALLOWED, account


def may_authorise_payout(grant: Grant, kind: str, figures: GrantFigures, user: User) -> Verdict:
    """A finance officer authorises a payout of ``kind`` when :func:`payout_terms` allow it
    and, for money paid out, the city has a verified bank account (:func:`account_to_pay`)."""
    role = may_authorise_payouts(user)
    if not role:
        return role
    terms = payout_terms(grant, kind, figures)[0]
    if not terms:
        return terms
    return account_to_pay(grant, kind)[0]


def account_still_in_force(payout: Payout) -> Verdict:
    """Money goes only to the account copied at authorisation, if it is still the city's
    verified account in force; otherwise 409 ``account_changed`` (cancel, authorise again).

    A payout with no copy (authorised before accounts were kept) is refused the same way.
    """
    if payout.kind not in OUTGOING:
        return ALLOWED
    account = account_in_force(payout.grant.city_id)
    if account is None or payout.account_id is None or account.id != payout.account_id:
        return refuse(AccountChanged())
    return ALLOWED


def authorisable_kinds(grant: Grant, figures: GrantFigures, user: User) -> list[str]:
    """The kinds of payout that ``user`` may authorise on ``grant`` now."""
    if not may_authorise_payouts(user):
        return []
    return [kind for kind in KINDS if may_authorise_payout(grant, kind, figures, user)]


def _event(payout: Payout, event: str, user: User, refused_role: str) -> Verdict:
    """The transition table's rule for ``event``: the role first (403), then the state (409)."""
    row = PAYOUT.transition(event)
    if user.role not in row.roles:
        return refuse(Forbidden(refused_role))
    if payout.state not in row.sources:
        return refuse(TransitionNotAllowed(event, payout.state))
    return ALLOWED


def may_confirm_payout(payout: Payout, user: User) -> Verdict:
    """Four eyes: another finance officer than the authoriser confirms an authorised payout.

    Money is not paid out to a grant that has ended (closed or terminated): its title already
    counts only what the grant cost. The caller locks that grant before it enforces this.
    """
    verdict = _event(payout, "confirm_paid", user, "Only finance officers confirm payouts.")
    if not verdict:
        return verdict
    if payout.authorised_by_id == user.id:
        return refuse(FourEyes())
    if payout.kind in OUTGOING and payout.grant.state in ENDED:
        return refuse(
            InvalidTransition(
                f"The grant is {payout.grant.state}: nothing more is paid out to it; "
                "cancel this payout."
            )
        )
    return account_still_in_force(payout)


def may_cancel_payout(payout: Payout, user: User) -> Verdict:
    """A finance officer cancels a payout while it is authorised (not yet paid)."""
    return _event(payout, "cancel", user, "Only finance officers cancel payouts.")
