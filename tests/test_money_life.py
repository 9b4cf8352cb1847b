"""A pilot's whole money life through the API, every figure to the cent (issue: money)."""

from __future__ import annotations

import datetime as dt

from grants.db import today
from tests.money_helpers import sign_agreement

MONTH = today().strftime("%Y-%m")


def expense(
    number: str, currency: str, amount: str, vat: str = "0.00", recoverable=False, day=None
):
    day = (day or today()).isoformat()
    return {
        "invoice_number": number,
        "invoice_date": day,
        "payment_date": day,
        "supplier": f"Supplier {number}",
        "description": f"Invoice {number}",
        "category": "services",
        "currency": currency,
        "amount": amount,
        "vat_amount": vat,
        "vat_recoverable": recoverable,
    }


def approved_grant(make, amount="4000.00"):
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    member = make.as_role("city_member", city=city)
    officer_a = make.as_role("finance_officer")
    officer_b = make.as_role("finance_officer")
    r = member.post(
        "/grants",
        {
            "title": "Harbour stories",
            "start_date": (today() - dt.timedelta(days=10)).isoformat(),
            "end_date": (today() + dt.timedelta(days=100)).isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": amount}],
        },
    )
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    assert member.fire(gid, "submit").status_code == 200
    r = officer_a.fire(gid, "approve")
    assert r.status_code == 200, r.get_json()
    # No advance before the agreement is signed by the city and countersigned (issue 14).
    r = officer_a.post(f"/grants/{gid}/disbursements", {"kind": "advance"})
    assert (r.status_code, r.get_json()["reason"]) == (409, "agreement_missing")
    sign_agreement(member, officer_b, gid)
    return city, member, officer_a, officer_b, gid


def pay(authoriser, confirmer, gid, kind, amount=None, expect=None):
    body = {"kind": kind} if amount is None else {"kind": kind, "amount": amount}
    r = authoriser.post(f"/grants/{gid}/disbursements", body)
    assert r.status_code == 201, r.get_json()
    payout = r.get_json()
    if expect:
        assert payout["amount"] == expect
    r = confirmer.post(
        f"/disbursements/{payout['id']}/transitions",
        {"event": "confirm_paid", "paid_on": today().isoformat(), "payment_reference": "BANK-1"},
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def file_report(member, officer, gid, kind, expenses, adjustments=None):
    r = member.post(
        f"/grants/{gid}/reports",
        {"kind": kind, "narrative": {"activities": "Workshops"}, "expenses": expenses},
    )
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    r = member.post(f"/reports/{rid}/transitions", {"event": "submit"})
    assert r.status_code == 200, r.get_json()
    body = {"event": "accept"}
    if adjustments:
        lines = r.get_json()["expenses"]
        body["adjustments"] = [
            {"expense_id": lines[i]["id"], "eligible_eur": eur, "reason": why}
            for i, eur, why in adjustments
        ]
    r = officer.post(f"/reports/{rid}/transitions", body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_whole_life_every_figure_to_the_cent(make):
    city, member, a, b, gid = approved_grant(make)
    admin = make.as_role("admin")
    for cur, rate in (("DKK", "7.4604"), ("SEK", "11.0000")):
        assert admin.put(f"/exchange-rates/{MONTH}/{cur}", {"rate": rate}).status_code == 200

    r = a.post(f"/grants/{gid}/disbursements", {"kind": "advance"})
    assert r.status_code == 201, r.get_json()
    advance = r.get_json()
    assert advance["amount"] == "2000.00"
    assert advance["state"] == "authorised"
    confirm = {"event": "confirm_paid", "paid_on": today().isoformat(), "payment_reference": "X1"}
    r = a.post(f"/disbursements/{advance['id']}/transitions", confirm)
    assert r.status_code == 409 and r.get_json()["reason"] == "four_eyes"
    r = b.post(f"/disbursements/{advance['id']}/transitions", confirm)
    assert r.status_code == 200, r.get_json()
    grant = a.get(f"/grants/{gid}").get_json()
    assert grant["state"] == "disbursed"
    assert grant["paid_amount"] == "2000.00"

    report = file_report(
        member,
        a,
        gid,
        "interim",
        [expense("I-1", "DKK", "7460.40"), expense("I-2", "SEK", "5500.00")],
    )
    assert [e["amount_eur"] for e in report["expenses"]] == ["1000.00", "500.00"]
    assert [e["rate"] for e in report["expenses"]] == ["7.4604", "11.0000"]
    assert a.get(f"/grants/{gid}").get_json()["state"] == "interim_reported"

    report = file_report(
        member,
        a,
        gid,
        "final",
        [
            expense("F-1", "EUR", "2000.00"),
            expense("F-2", "EUR", "300.00", vat="60.00", recoverable=True),
        ],
        adjustments=[(0, "1910.40", "Part of the invoice is outside the pilot")],
    )
    assert [e["eligible_eur"] for e in report["expenses"]] == ["1910.40", "240.00"]
    grant = a.get(f"/grants/{gid}").get_json()
    assert grant["state"] == "final_reported"
    assert grant["eligible_eur"] == "3650.40"
    assert grant["balance_due"] == "1650.40"

    pay(a, b, gid, "balance", expect="1650.40")
    r = a.fire(gid, "close")
    assert r.status_code == 200, r.get_json()
    grant = r.get_json()
    assert grant["state"] == "closed"
    assert grant["paid_amount"] == "3650.40"
    title = a.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert title["committed"] == "3650.40"
    assert title["paid"] == "3650.40"
    actions = [e["action"] for e in a.get(f"/grants/{gid}/history").get_json()]
    for action in (
        "payout_authorised",
        "payout_paid",
        "advance_paid",
        "report_submit",
        "report_accept",
        "expense_adjusted",
        "interim_accepted",
        "final_accepted",
        "close",
    ):
        assert action in actions


def test_less_spent_than_paid_is_recovered_before_closing(make):
    city, member, a, b, gid = approved_grant(make)
    pay(a, b, gid, "advance", expect="2000.00")
    file_report(member, a, gid, "interim", [expense("I-1", "EUR", "500.00")])
    file_report(member, a, gid, "final", [expense("F-1", "EUR", "300.00")])
    grant = a.get(f"/grants/{gid}").get_json()
    assert grant["recovery_due"] == "1200.00"
    assert grant["balance_due"] == "0.00"

    r = a.fire(gid, "close")
    assert r.status_code == 409 and r.get_json()["reason"] == "money_owed"
    r = a.post(f"/grants/{gid}/disbursements", {"kind": "balance"})
    assert r.status_code == 409
    pay(a, b, gid, "recovery", expect="1200.00")
    r = a.fire(gid, "close")
    assert r.status_code == 200, r.get_json()
    grant = r.get_json()
    assert grant["paid_amount"] == "2000.00"
    assert grant["recovered_amount"] == "1200.00"
    title = a.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert title["committed"] == "800.00"
    assert title["available"] == "4200.00"


def test_a_balance_paid_in_parts_then_close(make):
    _city, member, a, b, gid = approved_grant(make)
    pay(a, b, gid, "advance", expect="2000.00")
    file_report(member, a, gid, "interim", [expense("I-1", "EUR", "1500.00")])
    file_report(member, a, gid, "final", [expense("F-1", "EUR", "2150.40")])
    assert a.get(f"/grants/{gid}").get_json()["balance_due"] == "1650.40"
    r = a.post(f"/grants/{gid}/disbursements", {"kind": "balance", "amount": "1000.00"})
    assert r.status_code == 201
    waiting = a.post(f"/grants/{gid}/disbursements", {"kind": "balance"})
    assert waiting.status_code == 409  # the first part is not confirmed yet
    r = b.post(
        f"/disbursements/{r.get_json()['id']}/transitions",
        {"event": "confirm_paid", "paid_on": today().isoformat(), "payment_reference": "P1"},
    )
    assert r.status_code == 200
    assert a.fire(gid, "close").get_json()["reason"] == "money_owed"
    pay(a, b, gid, "balance", expect="650.40")
    too_much = a.post(f"/grants/{gid}/disbursements", {"kind": "balance", "amount": "0.01"})
    assert too_much.status_code == 409  # nothing is due any more
    grant = a.fire(gid, "close").get_json()
    assert grant["state"] == "closed" and grant["paid_amount"] == "3650.40"
