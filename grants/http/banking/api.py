"""HTTP API of the cities' bank accounts: history, proposals, verification by four eyes."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from grants.banking import services
from grants.banking.models import BankAccount
from grants.banking.policies import in_scope
from grants.cities.models import City
from grants.errors import NotFound
from grants.extensions import db
from grants.http.auth import current_user, endpoint
from grants.http.banking import presenters
from grants.http.banking.schemas import (
    BankAccountCreateSchema,
    BankAccountSchema,
    BankAccountTransitionSchema,
)
from grants.users.models import User
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER

blp = Blueprint("bank_accounts", __name__, description="Bank accounts of the cities, four eyes")


def load_city(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The city of the URL; another city's member gets 404, as for its grants."""
    city = db.session.get(City, kwargs.pop("city_id"))
    if city is None:
        raise NotFound("No such city.")
    in_scope(city.id, user).enforce()
    kwargs["city"] = city
    return kwargs


def load_account(user: User, kwargs: dict[str, Any]) -> dict[str, Any]:
    account = db.session.get(BankAccount, kwargs.pop("account_id"))
    if account is None or not in_scope(account.city_id, user):
        raise NotFound("No such bank account.")
    kwargs["account"] = account
    return kwargs


@blp.route("/cities/<int:city_id>/bank-accounts", methods=["GET"])
@blp.doc(
    operationId="listBankAccounts",
    description=(
        "The city's members, finance officers, admins and auditors (another city's member: "
        "404; mentors: 403). The history, newest first: at most one `verified` account is in "
        "force, at most one `pending` change waits."
    ),
)
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER, ADMIN, AUDITOR], load=load_city)
@blp.response(200, BankAccountSchema(many=True))
def list_accounts(city: City) -> Any:
    """The city's bank accounts, newest first."""
    return [presenters.account_out(a) for a in services.history(city.id)]


@blp.route("/cities/<int:city_id>/bank-accounts", methods=["POST"])
@blp.doc(
    operationId="proposeBankAccount",
    description=(
        "The city's members, finance officers and admins. A wrong IBAN (checksum, the "
        "country's length or format) or BIC (format, another country than the IBAN's) is "
        "422 naming the field. The account is `pending` until another finance officer than "
        "the proposer verifies it; a pending proposal of the city is superseded by the new one. "
        "Honours `Idempotency-Key`."
    ),
)
@endpoint(roles=[CITY_MEMBER, FINANCE_OFFICER, ADMIN], load=load_city, idempotent=True)
@blp.arguments(BankAccountCreateSchema)
@blp.response(201, BankAccountSchema)
def propose(data: dict[str, Any], city: City) -> Any:
    """Propose the city's bank account (holder, IBAN, BIC)."""
    account = services.propose_account(city.id, data, actor=current_user())
    return presenters.account_out(account)


@blp.route("/bank-accounts/<int:account_id>/transitions", methods=["POST"])
@blp.doc(
    operationId="fireBankAccountEvent",
    description=(
        "Finance officers. `verify` by another officer than the proposer (else 409 "
        "four_eyes): the account is in force and the one before it `superseded`; `reject` "
        "with a comment (422 without). Not pending: 409 invalid_transition. Honours "
        "`Idempotency-Key`."
    ),
)
@endpoint(roles=[FINANCE_OFFICER], load=load_account, idempotent=True)
@blp.arguments(BankAccountTransitionSchema)
@blp.response(200, BankAccountSchema)
def transition(data: dict[str, Any], account: BankAccount) -> Any:
    """Verify or reject a pending bank account."""
    services.decide_account(account, data, actor=current_user())
    return presenters.account_out(account)
