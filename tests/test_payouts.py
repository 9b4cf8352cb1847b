"""Payouts (domain.md, "Payouts"): kinds and their preconditions, the approved ceiling, four eyes,
who may do what, safe retries under real concurrency; and the exchange rates finance keeps."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from grants.payouts.models import Payout
from grants.rates.models import ExchangeRate
from tests.conftest import needs_postgres
from tests.factories import Caller, Factory
from tests.money_helpers import (
    Pilot,
    approved_grant,
    authorise,
    cancel,
    confirm,
    confirm_body,
    disbursed_grant,
    expense,
    file_report,
    final_reported_grant,
    month,
    new_report,
    pay,
    refused,
    report_event,
    sign_agreement,
    submitted_grant,
)


def payout_cents(gid: int) -> int:
    """The grant's counter of authorised-or-paid advances and balances, read from the database."""
    db.session.expire_all()
    return db.session.scalar(select(Grant.payout_cents).where(Grant.id == gid))


def payout_count(gid: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Payout).where(Payout.grant_id == gid))


# ---------------------------------------------------------------------------------------------
# Kinds and their preconditions


def test_the_advance_defaults_to_half_the_approved_amount_rounded_down(make: Factory):
    pilot = approved_grant(make, amount="3333.33")
    r = authorise(pilot.a, pilot.id, "advance")
    assert r.status_code == 201, r.get_json()
    payout = r.get_json()
    assert payout["kind"] == "advance"
    assert payout["amount"] == "1666.66"  # 1666.665 rounded down, never up
    assert payout["state"] == "authorised"
    assert payout["authorised_by"] == pilot.a.user.id
    assert payout["confirmed_by"] is None
    assert payout_cents(pilot.id) == 166666


def test_a_second_advance_is_refused_while_the_first_is_authorised_or_paid(make: Factory):
    pilot = approved_grant(make)
    first = authorise(pilot.a, pilot.id, "advance", "1000.00")
    assert first.status_code == 201, first.get_json()
    refused(authorise(pilot.b, pilot.id, "advance", "500.00"), 409, "invalid_transition")
    assert confirm(pilot.b, first.get_json()["id"]).status_code == 200
    refused(authorise(pilot.b, pilot.id, "advance", "500.00"), 409, "invalid_transition")
    assert [p["amount"] for p in pilot.payouts()] == ["1000.00"]
    assert payout_cents(pilot.id) == 100000


def test_an_advance_above_the_approved_amount_is_over_approved(make: Factory):
    pilot = approved_grant(make, amount="4000.00", approved="3000.00")
    body = refused(authorise(pilot.a, pilot.id, "advance", "3000.01"), 409, "over_approved")
    assert "3000.01" in body["message"]
    assert pilot.payouts() == []
    assert payout_cents(pilot.id) == 0
    # The whole approved amount may be advanced: the default share is not a ceiling.
    r = authorise(pilot.a, pilot.id, "advance", "3000.00")
    assert r.status_code == 201, r.get_json()
    assert payout_cents(pilot.id) == 300000


def test_a_balance_above_what_remains_of_the_approved_amount_is_over_approved(make: Factory):
    pilot = approved_grant(make, amount="4000.00")
    pay(pilot, "advance", "3000.00")
    file_report(pilot, "interim", [expense("I-1", "EUR", "2500.00")])
    file_report(pilot, "final", [expense("F-1", "EUR", "2000.00")])  # 4500 eligible > approved
    grant = pilot.get()
    assert grant["state"] == "final_reported"
    assert grant["balance_due"] == "1000.00"  # min(4000, 4500) - 3000
    refused(authorise(pilot.a, pilot.id, "balance", "1000.01"), 409, "over_approved")
    assert len(pilot.payouts()) == 1
    assert payout_cents(pilot.id) == 300000
    pay(pilot, "balance", expect="1000.00")
    grant = pilot.get()
    assert grant["paid_amount"] == "4000.00"
    assert grant["balance_due"] == "0.00"
    assert payout_cents(pilot.id) == 400000


@pytest.mark.parametrize("state", ["draft", "submitted", "changes_requested", "rejected"])
def test_an_advance_before_approval_is_refused(make: Factory, state: str):
    city = make.city()
    grant = make.grant(city, state=state)
    officer = make.as_role("finance_officer")
    refused(authorise(officer, grant.id, "advance", "100.00"), 409, "invalid_transition")
    refused(authorise(officer, grant.id, "advance"), 409, "invalid_transition")
    assert payout_count(grant.id) == 0


def test_an_advance_of_a_submitted_proposal_is_refused_until_it_is_approved(make: Factory):
    pilot = submitted_grant(make)
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "invalid_transition")
    assert pilot.a.fire(pilot.id, "approve").status_code == 200
    refused(authorise(pilot.a, pilot.id, "advance"), 409, "agreement_missing")
    sign_agreement(pilot.member, pilot.b, pilot.id)
    r = authorise(pilot.a, pilot.id, "advance")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount"] == "2000.00"


def test_a_balance_before_the_final_report_is_accepted_is_refused(make: Factory):
    pilot = approved_grant(make)
    refused(authorise(pilot.a, pilot.id, "balance", "100.00"), 409, "invalid_transition")
    pay(pilot, "advance")  # disbursed
    refused(authorise(pilot.a, pilot.id, "balance", "100.00"), 409, "invalid_transition")
    file_report(pilot, "interim", [expense("I-1", "EUR", "1500.00")])  # interim_reported
    refused(authorise(pilot.a, pilot.id, "balance", "100.00"), 409, "invalid_transition")
    final = new_report(pilot.member, pilot.id, "final", [expense("F-1", "EUR", "2000.00")])
    assert report_event(pilot.member, final["id"], "submit").status_code == 200
    # Submitted is not accepted: still nothing is due.
    refused(authorise(pilot.a, pilot.id, "balance"), 409, "invalid_transition")
    refused(authorise(pilot.a, pilot.id, "balance", "100.00"), 409, "invalid_transition")
    assert [p["kind"] for p in pilot.payouts()] == ["advance"]
    assert report_event(pilot.a, final["id"], "accept").status_code == 200
    r = authorise(pilot.a, pilot.id, "balance")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount"] == "1500.00"  # 3500 eligible - 2000 paid


def test_a_recovery_when_nothing_is_owed_is_refused(make: Factory):
    pilot = final_reported_grant(make, spent_interim="500.00", spent_final="1500.00")
    grant = pilot.get()
    assert (grant["paid_amount"], grant["eligible_eur"]) == ("2000.00", "2000.00")
    assert (grant["balance_due"], grant["recovery_due"]) == ("0.00", "0.00")
    refused(authorise(pilot.a, pilot.id, "recovery"), 409, "invalid_transition")
    refused(authorise(pilot.a, pilot.id, "recovery", "0.01"), 409, "invalid_transition")
    refused(authorise(pilot.a, pilot.id, "balance"), 409, "invalid_transition")
    assert [p["kind"] for p in pilot.payouts()] == ["advance"]
    # Nothing owed either way: the grant closes.
    assert pilot.a.fire(pilot.id, "close").status_code == 200


def test_a_recovery_before_the_final_report_is_refused(make: Factory):
    pilot = disbursed_grant(make)
    refused(authorise(pilot.a, pilot.id, "recovery", "100.00"), 409, "invalid_transition")


def test_a_recovery_above_what_is_owed_is_refused(make: Factory):
    pilot = final_reported_grant(make, spent_interim="500.00", spent_final="300.00")
    assert pilot.get()["recovery_due"] == "1200.00"
    refused(authorise(pilot.a, pilot.id, "recovery", "1200.01"), 409, "over_approved")
    r = authorise(pilot.a, pilot.id, "recovery", "200.00")
    assert r.status_code == 201, r.get_json()
    # What is already asked back is not asked twice.
    r = authorise(pilot.a, pilot.id, "recovery")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["amount"] == "1000.00"
    refused(authorise(pilot.a, pilot.id, "recovery", "0.01"), 409, "invalid_transition")
    # Recoveries bring money back: they never count against the approved amount.
    assert payout_cents(pilot.id) == 200000


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "advance", "amount": 2000},
        {"kind": "advance", "amount": "2000"},
        {"kind": "advance", "amount": "2000.0"},
        {"kind": "advance", "amount": "1999.999"},
        {"kind": "advance", "amount": "0.00"},
        {"kind": "advance", "amount": "-1.00"},
        {"kind": "advance", "amount": ""},
        {"kind": "advance", "amount": "10000000.00"},
        {"kind": "bonus", "amount": "100.00"},
        {"amount": "100.00"},
        {"kind": "advance", "amount": "100.00", "currency": "EUR"},
    ],
)
def test_a_malformed_payout_is_422(make: Factory, body: dict[str, Any]):
    pilot = approved_grant(make)
    refused(pilot.a.post(f"/grants/{pilot.id}/disbursements", body), 422)
    assert pilot.payouts() == []
    assert payout_cents(pilot.id) == 0


# ---------------------------------------------------------------------------------------------
# Who may create and confirm payouts


@pytest.mark.parametrize("role", ["city_member", "mentor", "auditor", "admin"])
def test_other_roles_may_neither_create_nor_confirm_payouts(make: Factory, role: str):
    pilot = approved_grant(make)
    caller = make.in_scope(role, pilot.city)
    refused(authorise(caller, pilot.id, "advance"), 403)
    refused(authorise(caller, pilot.id, "advance", "100.00"), 403)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    refused(confirm(caller, payout["id"]), 403)
    refused(cancel(caller, payout["id"]), 403)
    [only] = pilot.payouts()
    assert only["state"] == "authorised"
    assert only["confirmed_by"] is None
    assert pilot.get()["state"] == "approved"


@pytest.mark.parametrize("role", ["city_member", "mentor"])
def test_outside_their_city_they_get_404_not_403(make: Factory, role: str):
    pilot = approved_grant(make)
    elsewhere = make.city()
    caller = make.in_scope(role, elsewhere)
    refused(authorise(caller, pilot.id, "advance"), 404)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    refused(confirm(caller, payout["id"]), 404)
    refused(caller.get(f"/disbursements/{payout['id']}"), 404)
    refused(caller.get(f"/grants/{pilot.id}/disbursements"), 404)
    assert pilot.payouts()[0]["state"] == "authorised"


def test_the_city_and_its_mentor_read_its_payouts(make: Factory):
    pilot = approved_grant(make)
    payout = pay(pilot, "advance")
    mentor = make.in_scope("mentor", pilot.city)
    for caller in (pilot.member, mentor, make.as_role("auditor")):
        [seen] = pilot.payouts(caller)
        assert seen["id"] == payout["id"]
        assert seen["amount"] == "2000.00"
        assert seen["state"] == "paid"
        assert seen["confirmed_by"] == pilot.b.user.id


# ---------------------------------------------------------------------------------------------
# Cancel and confirm


def test_cancel_needs_a_comment_and_frees_the_amount(make: Factory):
    pilot = approved_grant(make)
    first = authorise(pilot.a, pilot.id, "advance", "4000.00").get_json()
    refused(authorise(pilot.a, pilot.id, "advance", "0.01"), 409)
    for comment in (None, "", "   "):
        body = refused(cancel(pilot.b, first["id"], comment), 422)
        assert "comment" in body["errors"]["json"]
    assert pilot.payouts()[0]["state"] == "authorised"
    assert payout_cents(pilot.id) == 400000

    # Any finance officer may cancel, the authoriser included.
    r = cancel(pilot.a, first["id"], "Wrong bank account.")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "cancelled"
    assert r.get_json()["cancel_comment"] == "Wrong bank account."
    assert payout_cents(pilot.id) == 0

    second = authorise(pilot.a, pilot.id, "advance", "4000.00")
    assert second.status_code == 201, second.get_json()
    assert [(p["amount"], p["state"]) for p in pilot.payouts()] == [
        ("4000.00", "cancelled"),
        ("4000.00", "authorised"),
    ]
    # A cancelled payout is final: it can be neither confirmed nor cancelled again.
    refused(confirm(pilot.b, first["id"]), 409, "invalid_transition")
    refused(cancel(pilot.b, first["id"]), 409, "invalid_transition")
    event = [e for e in pilot.history() if e["action"] == "payout_cancelled"]
    assert [(e["actor"]["id"], e["comment"]) for e in event] == [
        (pilot.a.user.id, "Wrong bank account.")
    ]


def test_a_paid_payout_cannot_be_cancelled(make: Factory):
    pilot = approved_grant(make)
    payout = pay(pilot, "advance")
    refused(cancel(pilot.a, payout["id"]), 409, "invalid_transition")
    assert pilot.payouts()[0]["state"] == "paid"
    assert pilot.get()["paid_amount"] == "2000.00"


@pytest.mark.parametrize(
    "missing", [("paid_on",), ("payment_reference",), ("paid_on", "payment_reference")]
)
def test_confirm_needs_the_date_and_the_bank_reference(make: Factory, missing: tuple[str, ...]):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    body = {k: v for k, v in confirm_body().items() if k not in missing}
    r = pilot.b.post(f"/disbursements/{payout['id']}/transitions", body)
    errors = refused(r, 422)["errors"]["json"]
    assert sorted(errors) == sorted(missing)
    [still] = pilot.payouts()
    assert (still["state"], still["paid_on"], still["confirmed_by"]) == ("authorised", None, None)
    assert pilot.get()["state"] == "approved"


def test_a_payment_dated_in_the_future_is_refused(make: Factory):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    body = confirm_body(paid_on=today() + dt.timedelta(days=1))
    refused(pilot.b.post(f"/disbursements/{payout['id']}/transitions", body), 422)
    assert pilot.payouts()[0]["state"] == "authorised"


def test_a_future_date_and_a_missing_reference_are_refused_in_one_answer(make: Factory):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    body = confirm_body(paid_on=today() + dt.timedelta(days=1))
    del body["payment_reference"]
    errors = refused(pilot.b.post(f"/disbursements/{payout['id']}/transitions", body), 422)
    assert errors["errors"]["json"] == {
        "paid_on": ["A payment date cannot lie in the future."],
        "payment_reference": ["Required to confirm a payout."],
    }
    assert pilot.payouts()[0]["state"] == "authorised"


def test_the_authoriser_may_not_confirm_four_eyes(make: Factory):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    refused(confirm(pilot.a, payout["id"]), 409, "four_eyes")
    [still] = pilot.payouts()
    assert still["state"] == "authorised"
    assert still["confirmed_by"] is None
    grant = pilot.get()
    assert (grant["state"], grant["paid_amount"]) == ("approved", "0.00")
    assert "payout_paid" not in pilot.actions()


def test_confirming_the_advance_disburses_the_grant(make: Factory):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    r = confirm(pilot.b, payout["id"], payment_reference="SEPA-2025-0042")
    assert r.status_code == 200, r.get_json()
    paid = r.get_json()
    assert paid["state"] == "paid"
    assert paid["confirmed_by"] == pilot.b.user.id
    assert paid["confirmed_by_email"] == pilot.b.user.email
    assert paid["authorised_by_email"] == pilot.a.user.email
    assert paid["paid_on"] == today().isoformat()
    assert paid["payment_reference"] == "SEPA-2025-0042"
    grant = pilot.get()
    assert grant["state"] == "disbursed"
    assert grant["paid_amount"] == "2000.00"
    assert grant["recovered_amount"] == "0.00"
    events = {e["action"]: e for e in pilot.history()}
    fired = events["advance_paid"]
    assert (fired["from_state"], fired["to_state"]) == ("approved", "disbursed")
    assert fired["actor"]["id"] == pilot.b.user.id
    assert fired["data"]["cause"] == "confirm_paid"
    assert fired["data"]["payout_id"] == payout["id"]
    assert events["payout_paid"]["data"]["payment_reference"] == "SEPA-2025-0042"
    assert events["payout_authorised"]["actor"]["id"] == pilot.a.user.id


def title_money(caller: Caller, pilot: Pilot) -> tuple[str, str, str]:
    [title] = caller.get(f"/cities/{pilot.city.id}").get_json()["titles"]
    return title["committed"], title["paid"], title["available"]


def test_an_advance_of_a_terminated_grant_is_not_paid(make: Factory):
    """Termination returns the unpaid approved amount to the city's headroom; paying the
    still-authorised advance afterwards would spend money the cap no longer counts."""
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    r = pilot.a.fire(pilot.id, "terminate", comment="The venue burnt down.")
    assert r.status_code == 200, r.get_json()
    assert title_money(pilot.a, pilot) == ("0.00", "0.00", "5000.00")

    refused(confirm(pilot.b, payout["id"]), 409, "invalid_transition")
    [still] = pilot.payouts()
    assert (still["state"], still["confirmed_by"]) == ("authorised", None)
    grant = pilot.get()
    assert (grant["state"], grant["paid_amount"]) == ("terminated", "0.00")
    assert title_money(pilot.a, pilot) == ("0.00", "0.00", "5000.00")
    assert "payout_paid" not in pilot.actions()

    assert cancel(pilot.b, payout["id"], "Terminated before payment.").status_code == 200
    assert payout_cents(pilot.id) == 0


def test_what_a_terminated_grant_cost_stays_committed(make: Factory):
    pilot = disbursed_grant(make)
    file_report(pilot, "interim", [expense("I-1", "EUR", "1200.00")])
    r = pilot.a.fire(pilot.id, "terminate", comment="The pilot stopped half way.")
    assert r.status_code == 200, r.get_json()
    assert title_money(pilot.a, pilot) == ("2000.00", "2000.00", "3000.00")
    grant = pilot.get()
    assert (grant["recovery_due"], grant["balance_due"]) == ("800.00", "0.00")
    refused(authorise(pilot.a, pilot.id, "balance"), 409, "invalid_transition")
    pay(pilot, "recovery", expect="800.00")
    assert title_money(pilot.a, pilot) == ("1200.00", "2000.00", "3800.00")
    grant = pilot.get()
    assert (grant["paid_amount"], grant["recovered_amount"]) == ("2000.00", "800.00")
    assert grant["recovery_due"] == "0.00"


# ---------------------------------------------------------------------------------------------
# Safe retries and real concurrency


def test_thirty_retries_of_one_payout_make_one_payout(make: Factory, live: Any):
    pilot = approved_grant(make)
    db.session.commit()  # hold no transaction (and no SQLite lock) while the server works
    path = f"/grants/{pilot.id}/disbursements"
    key = {"Idempotency-Key": "payout-advance-7f3c"}
    calls = [("POST", path, pilot.a.token, {"kind": "advance"}, key) for _ in range(30)]
    replies = live.at_once(calls, batch=10)
    assert len(replies) == 30
    assert {r.status for r in replies} == {201}, [r.text for r in replies if r.status != 201]
    assert len({r.text for r in replies}) == 1
    payout = replies[0].body
    assert payout["amount"] == "2000.00"
    [only] = pilot.payouts()
    assert only["id"] == payout["id"]
    assert payout_cents(pilot.id) == 200000
    assert pilot.actions().count("payout_authorised") == 1


def test_a_retry_with_another_body_is_idempotency_mismatch(make: Factory):
    pilot = approved_grant(make)
    key = {"Idempotency-Key": "k-1"}
    first = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert first.status_code == 201
    again = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    refused(
        authorise(pilot.a, pilot.id, "advance", "1500.00", headers=key), 409, "idempotency_mismatch"
    )
    assert len(pilot.payouts()) == 1


@pytest.mark.parametrize("key", ["", "with space", "\u00e9t\u00e9", "k" * 256])
def test_an_empty_or_malformed_idempotency_key_is_refused_and_nothing_is_paid(
    make: Factory, key: str
):
    pilot = approved_grant(make)
    r = authorise(pilot.a, pilot.id, "advance", "1000.00", headers={"Idempotency-Key": key})
    assert "Idempotency-Key" in refused(r, 422)["errors"]["headers"]
    assert pilot.payouts() == []


@needs_postgres
def test_ten_officers_confirming_at_once_pay_once(make: Factory, live: Any):
    pilot = approved_grant(make)
    payout = authorise(pilot.a, pilot.id, "advance").get_json()
    officers = [make.as_role("finance_officer") for _ in range(10)]
    db.session.commit()
    path = f"/disbursements/{payout['id']}/transitions"
    calls = [
        ("POST", path, o.token, confirm_body(reference=f"BANK-{i}")) for i, o in enumerate(officers)
    ]
    replies = live.at_once(calls)
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [409] * 9, [r.text for r in replies]
    assert all(
        r.body["reason"] in ("invalid_transition", "stale") for r in replies if r.status == 409
    )
    [winner] = [r for r in replies if r.status == 200]
    [only] = pilot.payouts()
    assert only["state"] == "paid"
    assert only["payment_reference"] == winner.body["payment_reference"]
    assert only["confirmed_by"] == winner.body["confirmed_by"]
    history = pilot.history()
    assert [e["action"] for e in history].count("payout_paid") == 1
    assert [e["action"] for e in history].count("advance_paid") == 1
    grant = pilot.get()
    assert (grant["state"], grant["paid_amount"]) == ("disbursed", "2000.00")


# ---------------------------------------------------------------------------------------------
# Exchange rates


@pytest.mark.parametrize("role", ["finance_officer", "admin"])
def test_finance_and_admins_set_rates(make: Factory, role: str):
    caller = make.as_role(role)
    r = caller.put("/exchange-rates/2025-03/DKK", {"rate": "7.4604"})
    assert r.status_code == 200, r.get_json()
    assert {k: r.get_json()[k] for k in ("month", "currency", "rate")} == {
        "month": "2025-03",
        "currency": "DKK",
        "rate": "7.4604",
    }
    # Setting it again replaces it: one rate per month and currency.
    r = caller.put("/exchange-rates/2025-03/DKK", {"rate": "7.461234"})
    assert r.status_code == 200, r.get_json()
    listed = caller.get("/exchange-rates?month=2025-03").get_json()
    assert [(x["currency"], x["rate"]) for x in listed] == [("DKK", "7.461234")]


@pytest.mark.parametrize("role", ["city_member", "mentor", "auditor"])
def test_other_roles_may_not_set_rates(make: Factory, role: str):
    caller = make.in_scope(role, make.city())
    refused(caller.put("/exchange-rates/2025-03/DKK", {"rate": "7.4604"}), 403)
    assert db.session.scalar(select(func.count()).select_from(ExchangeRate)) == 0


@pytest.mark.parametrize(
    "rate", ["0", "0.000000", "-1", "abc", "1.1234567", "", "7,46", "1e3", 7.46, 7, None]
)
def test_a_bad_rate_is_422(make: Factory, rate: Any):
    finance = make.as_role("finance_officer")
    body = refused(finance.put("/exchange-rates/2025-03/DKK", {"rate": rate}), 422)
    assert "rate" in json.dumps(body["errors"])
    assert finance.get("/exchange-rates").get_json() == []


@pytest.mark.parametrize(
    "path", ["2025-13/DKK", "2025-00/DKK", "2025-1/DKK", "25-01/DKK", "2025-03/dkk", "2025-03/DK"]
)
def test_a_bad_month_or_currency_is_422(make: Factory, path: str):
    finance = make.as_role("finance_officer")
    refused(finance.put(f"/exchange-rates/{path}", {"rate": "7.4604"}), 422)
    assert finance.get("/exchange-rates").get_json() == []


def test_the_rate_of_eur_is_one(make: Factory):
    finance = make.as_role("finance_officer")
    refused(finance.put("/exchange-rates/2025-03/EUR", {"rate": "1.5"}), 422)
    assert finance.put("/exchange-rates/2025-03/EUR", {"rate": "1"}).status_code == 200


def test_rates_are_listed_by_month(make: Factory):
    finance = make.as_role("finance_officer")
    for when, cur, rate in (
        ("2025-03", "SEK", "11.0000"),
        ("2025-03", "DKK", "7.4604"),
        ("2025-04", "DKK", "7.4650"),
        ("2025-03", "PLN", "4.28"),
    ):
        assert finance.put(f"/exchange-rates/{when}/{cur}", {"rate": rate}).status_code == 200
    reader = make.in_scope("city_member", make.city())  # everybody reads rates
    r = reader.get("/exchange-rates?month=2025-03")
    assert r.status_code == 200, r.get_json()
    assert [(x["month"], x["currency"], x["rate"]) for x in r.get_json()] == [
        ("2025-03", "DKK", "7.4604"),
        ("2025-03", "PLN", "4.2800"),
        ("2025-03", "SEK", "11.0000"),
    ]
    assert [x["rate"] for x in reader.get("/exchange-rates?month=2025-04").get_json()] == ["7.4650"]
    assert reader.get("/exchange-rates?month=2025-05").get_json() == []
    refused(reader.get("/exchange-rates?month=2025-13"), 422)


def run_import(app: Any, path: Any) -> Any:
    return app.test_cli_runner().invoke(args=["rates", "import", str(path)])


def rates_in_db() -> list[tuple[str, str, int]]:
    db.session.expire_all()
    return [
        (r.month, r.currency, r.rate_micros)
        for r in db.session.scalars(
            select(ExchangeRate).order_by(ExchangeRate.month, ExchangeRate.currency)
        )
    ]


def test_the_cli_imports_a_csv_of_rates(make: Factory, tmp_path: Any):
    csv = tmp_path / "inforeuro.csv"
    csv.write_text("month,currency,rate\n2025-03,DKK,7.4604\n2025-03,sek,11.0\n2025-04,PLN,4.2\n")
    result = run_import(make.app, csv)
    assert result.exit_code == 0, result.output
    assert "imported 3 rates" in result.output
    assert rates_in_db() == [
        ("2025-03", "DKK", 7_460_400),
        ("2025-03", "SEK", 11_000_000),
        ("2025-04", "PLN", 4_200_000),
    ]
    # The same file again replaces, never duplicates.
    assert run_import(make.app, csv).exit_code == 0
    assert len(rates_in_db()) == 3


@pytest.mark.parametrize(
    "bad_row",
    [
        "2025-13,NOK,11.5",
        "2025-05,NOK,0",
        "2025-05,NOK,-1",
        "2025-05,NOK,1.1234567",
        "2025-05,NOK,abc",
        "2025-05,NOKK,11.5",
        "2025-05,NOK",
        "2025-05,EUR,1.5",
    ],
)
def test_one_bad_row_imports_nothing(make: Factory, tmp_path: Any, bad_row: str):
    csv = tmp_path / "inforeuro.csv"
    csv.write_text(f"month,currency,rate\n2025-03,DKK,7.4604\n{bad_row}\n2025-03,SEK,11.0\n")
    result = run_import(make.app, csv)
    assert result.exit_code != 0
    assert "line 3" in result.output or "EUR" in result.output, result.output
    assert rates_in_db() == []


def months_rates(caller: Caller) -> list[Any]:
    return caller.get(f"/exchange-rates?month={month()}").get_json()


def test_a_rate_set_through_the_api_is_used_by_the_next_submission(make: Factory):
    pilot: Pilot = disbursed_grant(make)
    assert months_rates(pilot.a) == []
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "DKK", "746.04")])
    refused(report_event(pilot.member, report["id"], "submit"), 409, "rate_missing")
    assert pilot.a.put(f"/exchange-rates/{month()}/DKK", {"rate": "7.4604"}).status_code == 200
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["expenses"][0]["amount_eur"] == "100.00"
