"""Payouts with four eyes: one finance officer authorises, another confirms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm.util import identity_key

from grants import audit
from grants.audit import Action
from grants.banking.services import lock_city
from grants.cities.services import release_from_cap
from grants.db import utcnow
from grants.errors import (
    InvalidTransition,
    OverApproved,
    Unprocessable,
)
from grants.extensions import db
from grants.grant.models import Grant, GrantFigures
from grants.grant.services import (
    transition_grant,
)
from grants.lifecycle import fire_and_record, precheck
from grants.money import format_money
from grants.payouts.models import Payout
from grants.payouts.policies import (
    account_to_pay,
    may_authorise_payouts,
    may_cancel_payout,
    may_confirm_payout,
    payout_terms,
)
from grants.users.models import User
from workflows.grant import APPROVED, ENDED
from workflows.payout import (
    ADVANCE,
    OUTGOING,
    PAYOUT,
    RECOVERY,
)

#: The audit action of each payout event.
PAYOUT_ACTIONS = {"confirm_paid": Action.PAYOUT_PAID, "cancel": Action.PAYOUT_CANCELLED}


def list_payouts(grant: Grant) -> list[Payout]:
    return list(
        db.session.scalars(select(Payout).where(Payout.grant_id == grant.id).order_by(Payout.id))
    )


def _reserve(grant: Grant, cents: int) -> None:
    """Count an outgoing payout against the approved amount, atomically (like the cap)."""
    result = db.session.execute(
        update(Grant)
        .where(Grant.id == grant.id, Grant.payout_cents + cents <= Grant.approved_cents)
        .values(payout_cents=Grant.payout_cents + cents)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise OverApproved(
            f"A payout of {format_money(cents)} exceeds what remains of the approved amount."
        )
    _refresh_counter(grant.id)


def _release(grant_id: int, cents: int) -> None:
    db.session.execute(
        update(Grant)
        .where(Grant.id == grant_id)
        .values(payout_cents=Grant.payout_cents - cents)
        .execution_options(synchronize_session=False)
    )
    _refresh_counter(grant_id)


def _refresh_counter(grant_id: int) -> None:
    grant = db.session.identity_map.get(identity_key(Grant, grant_id))
    if grant is not None:
        db.session.expire(grant, ["payout_cents", "version"])


def authorise_payout(
    grant: Grant, data: dict[str, Any], *, actor: User, figures: GrantFigures
) -> Payout:
    """Authorise an advance, a balance or a recovery (amount defaulted per domain.md).

    ``grant`` is locked and ``figures`` are its figures read after the lock.
    """
    may_authorise_payouts(actor).enforce()
    kind = data["kind"]
    verdict, due = payout_terms(grant, kind, figures)
    verdict.enforce()
    amount = data.get("amount")
    if amount is None:
        amount = due
    if kind == RECOVERY and amount > due:
        raise OverApproved(
            f"A recovery of {format_money(amount)} exceeds what is owed, {format_money(due)}."
        )
    if amount <= 0:
        raise InvalidTransition("Nothing to pay.")
    if kind in OUTGOING:
        # The city's account is read under its row lock: a verification waits or went first.
        lock_city(grant.city_id)
    account_verdict, account = account_to_pay(grant, kind)
    account_verdict.enforce()
    if kind in OUTGOING:
        _reserve(grant, amount)
    payout = Payout(
        grant_id=grant.id,
        kind=kind,
        amount_cents=amount,
        state=PAYOUT.initial,
        authorised_by_id=actor.id,
        authorised_at=utcnow(),
    )
    audit_data: dict[str, Any] = {
        "payout_id": None,
        "kind": kind,
        "amount": format_money(amount),
    }
    if account is not None:
        payout.account_id = account.id
        payout.account_holder = account.holder
        payout.account_iban = account.iban
        payout.account_bic = account.bic
        audit_data.update(
            bank_account_id=account.id, holder=account.holder, iban=account.iban, bic=account.bic
        )
    db.session.add(payout)
    db.session.flush()
    audit_data["payout_id"] = payout.id
    audit.log(
        Action.PAYOUT_AUTHORISED,
        payout,
        actor=actor,
        to_state=payout.state,
        data=audit_data,
    )
    return payout


def confirm_missing(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """What confirming a payout paid needs and ``data`` lacks: the date paid and the bank's
    reference (field → message). The service refuses on it; the request schema reports it
    together with the other fields' errors, in one answer."""
    if data.get("event") != "confirm_paid":
        return {}
    return {
        name: ["Required to confirm a payout."]
        for name in ("paid_on", "payment_reference")
        if not data.get(name)
    }


def transition_payout(payout: Payout, data: dict[str, Any], *, actor: User) -> Payout:
    """Confirm a payout paid (another officer than the authoriser) or cancel it."""
    event = data["event"]
    _row, comment = precheck(PAYOUT, event, actor.role, data.get("comment"), what="payouts")
    if event == "confirm_paid":
        errors = confirm_missing(data)
        if errors:
            raise Unprocessable(errors={"json": errors})
        if data["paid_on"] > dt.datetime.now(dt.UTC).date():
            raise Unprocessable.field("paid_on", "A payment date cannot lie in the future.")
        if payout.kind in OUTGOING:
            # Locked before its state is read (an ended grant is paid nothing more).
            db.session.get(Grant, payout.grant_id, with_for_update={"of": Grant})
            # … and the city's account too: a verification in flight waits, or went first.
            lock_city(payout.grant.city_id)
        may_confirm_payout(payout, actor).enforce()
    else:
        may_cancel_payout(payout, actor).enforce()
    audit_data: dict[str, Any] = {
        "payout_id": payout.id,
        "kind": payout.kind,
        "amount": format_money(payout.amount_cents),
    }
    if event == "confirm_paid":
        payout.confirmed_by_id = actor.id
        payout.confirmed_by = actor  # the answer names the confirming officer
        payout.confirmed_at = utcnow()
        payout.paid_on = data["paid_on"]
        payout.payment_reference = data["payment_reference"]
        audit_data.update(
            paid_on=payout.paid_on.isoformat(), payment_reference=payout.payment_reference
        )
    else:
        payout.cancelled_by_id = actor.id
        payout.cancelled_at = utcnow()
        payout.cancel_comment = comment
        if payout.kind in OUTGOING:
            _release(payout.grant_id, payout.amount_cents)
    fire_and_record(
        PAYOUT,
        payout,
        event,
        actor=actor,
        action=PAYOUT_ACTIONS[event],
        comment=comment,
        data=audit_data,
    )
    if event == "confirm_paid" and payout.kind == RECOVERY:
        grant = db.session.get(Grant, payout.grant_id)
        if grant.state in ENDED:
            # An ended grant counts only what it cost; money returned frees the city's headroom.
            release_from_cap(grant.title_id, payout.amount_cents)
    if event == "confirm_paid" and payout.kind == ADVANCE:
        grant = db.session.get(Grant, payout.grant_id, with_for_update={"of": Grant})
        if grant.state == APPROVED:
            transition_grant(
                grant,
                "advance_paid",
                actor=actor,
                cause={"cause": "confirm_paid", "payout_id": payout.id},
            )
    return payout
