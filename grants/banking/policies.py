"""Who may read, propose, verify or reject a city's bank account now: each rule once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from grants.banking.models import PENDING, BankAccount
from grants.errors import ALLOWED, Forbidden, FourEyes, InvalidTransition, NotFound, Verdict, refuse
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER
from workflows.labels import state_label

if TYPE_CHECKING:
    from grants.users.models import User

#: Programme staff who read every city's accounts.
STAFF_READERS = (FINANCE_OFFICER, ADMIN, AUDITOR)
#: Who proposes a change of a city's account (a city member only for their own city).
PROPOSERS = (CITY_MEMBER, FINANCE_OFFICER, ADMIN)


class AccountFourEyes(FourEyes):
    """Same reason as a payout's four eyes, in the words of a bank account."""

    message = "A bank account is verified by another finance officer than the one who proposed it."


def in_scope(city_id: int, user: User) -> Verdict:
    """A city's accounts exist for its members and staff; for other cities' members not (404).

    Mentors read no bank account (403): the money's destination is not theirs to see.
    """
    if user.role == CITY_MEMBER and user.city_id != city_id:
        return refuse(NotFound("No such city."))
    return ALLOWED


def may_read_accounts(city_id: int, user: User) -> Verdict:
    scope = in_scope(city_id, user)
    if not scope:
        return scope
    if user.role not in (CITY_MEMBER, *STAFF_READERS):
        return refuse(Forbidden("Mentors do not see the cities' bank accounts."))
    return ALLOWED


def may_propose_account(city_id: int, user: User) -> Verdict:
    """The city's members, finance officers and admins propose a change (it waits, pending)."""
    scope = in_scope(city_id, user)
    if not scope:
        return scope
    if user.role not in PROPOSERS:
        return refuse(
            Forbidden("Only the city's members, finance officers and admins propose an account.")
        )
    return ALLOWED


def may_decide_account(account: BankAccount, event: str, user: User) -> Verdict:
    """A finance officer verifies or rejects a pending account; never the one who proposed it.

    The role first (403), then the state (409 ``invalid_transition``), then four eyes for
    ``verify`` (409 ``four_eyes``). Rejecting one's own proposal is allowed (a typing error).
    """
    if user.role != FINANCE_OFFICER:
        return refuse(Forbidden("Only finance officers verify or reject bank accounts."))
    if account.state != PENDING:
        return refuse(
            InvalidTransition(
                f"This bank account is {state_label(account.state).lower()}: only one waiting "
                "for verification is decided."
            )
        )
    if event == "verify" and account.proposed_by_id == user.id:
        return refuse(AccountFourEyes())
    return ALLOWED
