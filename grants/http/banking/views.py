"""Pages of the bank accounts: a city's account (masked), its history and a proposal form;
finance's accounts to verify and the verification screen (the only page with the full IBAN)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from grants.banking import numbers, services
from grants.banking.models import PENDING, BankAccount
from grants.banking.policies import (
    may_decide_account,
    may_propose_account,
    may_read_accounts,
)
from grants.cities.models import City
from grants.errors import NotFound
from grants.extensions import db
from grants.http.banking.schemas import BankAccountCreateSchema, BankAccountTransitionSchema
from grants.http.web import act, done, drop_blank, me, page, run_form
from workflows.grant import ADMIN, AUDITOR, CITY_MEMBER, FINANCE_OFFICER

bp = Blueprint("banking_pages", __name__)

READERS = (CITY_MEMBER, FINANCE_OFFICER, ADMIN, AUDITOR)


@bp.app_template_filter("iban_masked")
def iban_masked(iban: str | None) -> str:
    """``LV•• •••• •••• •••• •500 1``: the pages show no full IBAN but on verification."""
    return numbers.masked(iban)


@bp.app_template_filter("iban_grouped")
def iban_grouped(iban: str | None) -> str:
    return numbers.grouped(iban or "")


@bp.app_template_global("bank_account_of")
def bank_account_of(city_id: int) -> dict[str, BankAccount | None]:
    """The city's account in force and the change waiting, for the pages that mention them."""
    return {
        "in_force": services.account_in_force(city_id),
        "pending": services.pending_account(city_id),
    }


def _city(city_id: int) -> City:
    city = db.session.get(City, city_id)
    if city is None:
        raise NotFound("No such city.")
    return city


@bp.route("/cities/<int:city_id>/bank-account", methods=["GET", "POST"])
@page(roles=READERS)
def city_account(city_id: int) -> Any:
    """The account in force (masked), the change waiting, the history; a form to propose."""
    user = me()
    city = _city(city_id)
    may_read_accounts(city.id, user).enforce()  # another city's member: 404
    can_propose = may_propose_account(city.id, user)
    form: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        can_propose.enforce()
        form = {key: request.form.get(key, "").strip() for key in ("holder", "iban", "bic")}
        raw = drop_blank(form)
        account, errors, status = run_form(
            lambda: services.propose_account(
                city.id, BankAccountCreateSchema().load(raw), actor=user
            )
        )
        if status == 200:
            done(
                f"The account {numbers.masked(account.iban)} is proposed: another finance "
                "officer than the proposer verifies it before any payout goes there."
            )
            return redirect(url_for("banking_pages.city_account", city_id=city.id))
    accounts = services.history(city.id)
    in_force = next((a for a in accounts if a.state == "verified"), None)
    pending = next((a for a in accounts if a.state == "pending"), None)
    return (
        render_template(
            "banking/city_account.html",
            city=city,
            accounts=accounts,
            in_force=in_force,
            pending=pending,
            can_propose=can_propose,
            can_verify=user.role == FINANCE_OFFICER,
            form=form,
            errors=errors,
        ),
        status,
    )


@bp.route("/bank-accounts", methods=["GET"])
@page(roles=[FINANCE_OFFICER, ADMIN, AUDITOR])
def to_verify() -> Any:
    """Every account waiting for verification, oldest first."""
    user = me()
    rows = [(a, may_decide_account(a, "verify", user)) for a in services.accounts_to_verify()]
    return render_template("banking/to_verify.html", rows=rows)


def _account(account_id: int) -> BankAccount:
    account = db.session.get(BankAccount, account_id)
    if account is None:
        raise NotFound("No such bank account.")
    return account


@bp.route("/bank-accounts/<int:account_id>", methods=["GET"])
@page(roles=[FINANCE_OFFICER, ADMIN, AUDITOR])
def verification(account_id: int) -> Any:
    """The verification screen: the full IBAN, beside the account in force it would replace."""
    user = me()
    account = _account(account_id)
    in_force = services.account_in_force(account.city_id)
    return render_template(
        "banking/verify.html",
        account=account,
        in_force=in_force if in_force is not None and in_force.id != account.id else None,
        can_verify=may_decide_account(account, "verify", user),
        can_reject=may_decide_account(account, "reject", user),
    )


@bp.route("/bank-accounts/<int:account_id>/<any(verify, reject):event>", methods=["POST"])
@page(roles=[FINANCE_OFFICER, ADMIN, AUDITOR])
def decide(account_id: int, event: str) -> Any:
    user = me()
    account = _account(account_id)
    raw = drop_blank({"event": event, "comment": request.form.get("comment", "").strip()})
    masked = numbers.masked(account.iban)
    if event == "verify":
        success = f"The account {masked} is verified and in force."
        back = url_for("banking_pages.city_account", city_id=account.city_id)
    else:
        success = f"The account {masked} is rejected; the city reads why."
        back = url_for("banking_pages.to_verify")
    # A refusal comes back to the verification screen, where its message is read.
    response = act(
        lambda: services.decide_account(
            account, BankAccountTransitionSchema().load(raw), actor=user
        ),
        success=success,
        back=url_for("banking_pages.verification", account_id=account.id),
    )
    return redirect(back) if account.state != PENDING else response
