"""A city's bank account: proposed, verified by another finance officer, or rejected.

Every change of a city's accounts takes the city's row lock first (PostgreSQL: ``SELECT … FOR
UPDATE``; SQLite holds its write lock from ``BEGIN IMMEDIATE``) and reads the accounts after
it, so two decisions on one city never interleave: at most one verified account is in force
and at most one waits, pending.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from grants import audit
from grants.audit import Action
from grants.banking import numbers
from grants.banking.models import (
    PENDING,
    REJECTED,
    SUPERSEDED,
    VERIFIED,
    BankAccount,
)
from grants.banking.policies import may_decide_account, may_propose_account
from grants.cities.models import City
from grants.db import utcnow
from grants.errors import NotFound, Unprocessable
from grants.extensions import db
from grants.users.models import User

#: The audit action of each event of a pending account.
ACCOUNT_ACTIONS = {"verify": Action.BANK_ACCOUNT_VERIFIED, "reject": Action.BANK_ACCOUNT_REJECTED}


def lock_city(city_id: int) -> City:
    """Lock the city's row: every change of its accounts waits here for the one before it."""
    city = db.session.scalar(
        select(City)
        .where(City.id == city_id)
        .with_for_update(of=City)
        .execution_options(populate_existing=True)
    )
    if city is None:
        raise NotFound("No such city.")
    return city


def history(city_id: int) -> list[BankAccount]:
    """The city's accounts, newest first."""
    return list(
        db.session.scalars(
            select(BankAccount)
            .where(BankAccount.city_id == city_id)
            .order_by(BankAccount.proposed_at.desc(), BankAccount.id.desc())
        )
    )


def _one(city_id: int, state: str) -> BankAccount | None:
    return db.session.scalar(
        select(BankAccount)
        .where(BankAccount.city_id == city_id, BankAccount.state == state)
        .execution_options(populate_existing=True)
    )


def account_in_force(city_id: int) -> BankAccount | None:
    """The city's verified account, the one money is paid to; None if it has none."""
    return _one(city_id, VERIFIED)


def pending_account(city_id: int) -> BankAccount | None:
    """The change waiting for verification, if any."""
    return _one(city_id, PENDING)


def accounts_to_verify() -> list[BankAccount]:
    """Every pending account of every city, oldest proposal first (finance's work queue)."""
    return list(
        db.session.scalars(
            select(BankAccount)
            .where(BankAccount.state == PENDING)
            .order_by(BankAccount.proposed_at, BankAccount.id)
        )
    )


def get_account(account_id: int) -> BankAccount:
    account = db.session.get(BankAccount, account_id)
    if account is None:
        raise NotFound("No such bank account.")
    return account


def checked_numbers(data: dict[str, Any]) -> tuple[str, str | None]:
    """The IBAN (electronic form) and BIC of ``data``, or 422 naming each wrong field in words.

    Without a BIC, the one of the IBAN's bank is taken where the library knows it.
    """
    errors: dict[str, list[str]] = {}
    iban, why = numbers.parse_iban(data["iban"])
    if why:
        errors["iban"] = [why]
    bic = data.get("bic") or None
    if bic is not None:
        bic, why = numbers.parse_bic(bic, iban[:2] if iban else None)
        if why:
            errors["bic"] = [why]
    elif iban:
        bic = numbers.bank_bic(iban)
    if errors or iban is None:
        raise Unprocessable(errors={"json": errors})
    return iban, bic


def _supersede(
    old: BankAccount, from_state: str, *, at: Any, actor: User, cause: dict[str, Any]
) -> None:
    """``old`` (pending or in force) superseded at ``at``, and its audit event."""
    old.state = SUPERSEDED
    old.superseded_at = at
    db.session.flush()  # the one-pending and one-verified indexes see the old row leave first
    audit.log(
        Action.BANK_ACCOUNT_SUPERSEDED,
        old,
        actor=actor,
        from_state=from_state,
        to_state=SUPERSEDED,
        data={"city_id": old.city_id, "bank_account_id": old.id, **cause},
    )


def propose_account(city_id: int, data: dict[str, Any], *, actor: User) -> BankAccount:
    """Propose the city's account ``{holder, iban, bic?}``: it waits, pending, for verification.

    A pending proposal of the same city is replaced (superseded) by the newer one.
    """
    may_propose_account(city_id, actor).enforce()
    iban, bic = checked_numbers(data)
    lock_city(city_id)
    replaced = pending_account(city_id)
    if replaced is not None:
        _supersede(replaced, PENDING, at=utcnow(), actor=actor, cause={"cause": "new_proposal"})
    account = BankAccount(
        city_id=city_id,
        holder=data["holder"],
        iban=iban,
        bic=bic,
        state=PENDING,
        proposed_by_id=actor.id,
        proposed_at=utcnow(),
    )
    account.proposed_by = actor
    db.session.add(account)
    db.session.flush()
    audit.log(
        Action.BANK_ACCOUNT_PROPOSED,
        account,
        actor=actor,
        to_state=PENDING,
        data={
            "city_id": city_id,
            "bank_account_id": account.id,
            "holder": account.holder,
            "iban": account.iban,
            "bic": account.bic,
        },
    )
    return account


def decide_account(account: BankAccount, data: dict[str, Any], *, actor: User) -> BankAccount:
    """``verify`` (another finance officer than the proposer) or ``reject`` with a comment.

    Verifying puts the account in force; the one in force before it is superseded.
    """
    event = data["event"]
    comment = (data.get("comment") or "").strip() or None
    if event == "reject" and comment is None:
        raise Unprocessable.field("comment", "Say why the account is rejected: the city reads it.")
    lock_city(account.city_id)
    db.session.refresh(account)  # its state as the lock holder left it
    may_decide_account(account, event, actor).enforce()
    now = utcnow()
    if event == "verify":
        previous = account_in_force(account.city_id)
        if previous is not None:
            cause = {"cause": "verified", "by_bank_account_id": account.id}
            _supersede(previous, VERIFIED, at=now, actor=actor, cause=cause)
        account.state = VERIFIED
        account.verified_by_id = actor.id
        account.verified_by = actor
        account.verified_at = now
    else:
        account.state = REJECTED
        account.rejected_by_id = actor.id
        account.rejected_by = actor
        account.rejected_at = now
        account.reject_comment = comment
    db.session.flush()
    audit.log(
        ACCOUNT_ACTIONS[event],
        account,
        actor=actor,
        from_state=PENDING,
        to_state=account.state,
        comment=comment,
        data={"city_id": account.city_id, "bank_account_id": account.id, "iban": account.iban},
    )
    return account
