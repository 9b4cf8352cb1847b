"""Helpers for the money tests: a grant brought to a state through the API, payouts, reports.

Everything goes through the public API as the people of domain.md would do it, so that a test
starting from "a disbursed grant" starts from exactly what a real one looks like.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from grants.db import today
from tests.factories import Caller, Factory

COMMENT = "Reasoned decision, see the minutes."


def month() -> str:
    """The submission month (UTC) whose rates convert a report submitted now."""
    return today().strftime("%Y-%m")


def expense(
    number: str,
    currency: str = "EUR",
    amount: str = "100.00",
    vat: str = "0.00",
    recoverable: bool = False,
    day: dt.date | None = None,
    paid: dt.date | None = None,
) -> dict[str, Any]:
    """One expense line as a city would type it (dated today unless told otherwise)."""
    day = day or today()
    return {
        "invoice_number": number,
        "invoice_date": day.isoformat(),
        "payment_date": (paid or day).isoformat(),
        "supplier": f"Supplier {number}",
        "description": f"Invoice {number}",
        "category": "services",
        "currency": currency,
        "amount": amount,
        "vat_amount": vat,
        "vat_recoverable": recoverable,
    }


@dataclass
class Pilot:
    """An approved (or later) grant and the people around it: its city's member and two
    finance officers, ``a`` (who authorises) and ``b`` (who confirms)."""

    city: Any
    member: Caller
    a: Caller
    b: Caller
    id: int
    start: dt.date
    end: dt.date

    def get(self, caller: Caller | None = None) -> dict[str, Any]:
        r = (caller or self.a).get(f"/grants/{self.id}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def payouts(self, caller: Caller | None = None) -> list[dict[str, Any]]:
        r = (caller or self.a).get(f"/grants/{self.id}/disbursements")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def history(self, caller: Caller | None = None) -> list[dict[str, Any]]:
        r = (caller or self.a).get(f"/grants/{self.id}/history")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def actions(self, caller: Caller | None = None) -> list[str]:
        return [e["action"] for e in self.history(caller)]


def submitted_grant(make: Factory, amount: str = "4000.00") -> Pilot:
    """A proposal of one budget line of ``amount``, submitted by its city (not yet decided)."""
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    member = make.as_role("city_member", city=city)
    a = make.as_role("finance_officer")
    b = make.as_role("finance_officer")
    start, end = today() - dt.timedelta(days=10), today() + dt.timedelta(days=100)
    r = member.post(
        "/grants",
        {
            "title": "Harbour stories",
            "summary": "Stories of the harbour, told by its people.",
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": amount}],
        },
    )
    assert r.status_code == 201, r.get_json()
    gid = r.get_json()["id"]
    r = member.fire(gid, "submit")
    assert r.status_code == 200, r.get_json()
    return Pilot(city, member, a, b, gid, start, end)


def approved_grant(
    make: Factory, amount: str = "4000.00", approved: str | None = None, *, signed: bool = True
) -> Pilot:
    """A grant approved by officer ``a`` for ``approved`` (default: the requested ``amount``);
    with ``signed`` its agreement is signed by the city's member and countersigned by ``b``
    (payouts need it)."""
    pilot = submitted_grant(make, amount)
    body = {} if approved is None else {"approved_amount": approved}
    r = pilot.a.fire(pilot.id, "approve", **body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "approved"
    if signed:
        sign_agreement(pilot.member, pilot.b, pilot.id)
    return pilot


def sign_agreement(member: Caller, officer: Caller, gid: int) -> dict[str, Any]:
    """The city's ``member`` signs the grant agreement, finance's ``officer`` countersigns."""
    path = f"/grants/{gid}/agreement/transitions"
    r = member.post(path, {"event": "sign", "signatory_name": "Agnė Żółkiewska"})
    assert r.status_code == 200, r.get_json()
    r = officer.post(path, {"event": "countersign"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "signed"
    return r.get_json()


def authorise(officer: Caller, gid: int, kind: str, amount: str | None = None, **kw: Any) -> Any:
    body: dict[str, Any] = {"kind": kind}
    if amount is not None:
        body["amount"] = amount
    return officer.post(f"/grants/{gid}/disbursements", body, **kw)


def confirm_body(reference: str = "BANK-1", paid_on: dt.date | None = None) -> dict[str, Any]:
    return {
        "event": "confirm_paid",
        "paid_on": (paid_on or today()).isoformat(),
        "payment_reference": reference,
    }


def confirm(officer: Caller, payout_id: int, **body: Any) -> Any:
    return officer.post(f"/disbursements/{payout_id}/transitions", {**confirm_body(), **body})


def cancel(officer: Caller, payout_id: int, comment: str | None = COMMENT) -> Any:
    body: dict[str, Any] = {"event": "cancel"}
    if comment is not None:
        body["comment"] = comment
    return officer.post(f"/disbursements/{payout_id}/transitions", body)


def pay(pilot: Pilot, kind: str, amount: str | None = None, expect: str | None = None) -> dict:
    """Officer ``a`` authorises a payout and officer ``b`` confirms it; the paid payout."""
    r = authorise(pilot.a, pilot.id, kind, amount)
    assert r.status_code == 201, r.get_json()
    payout = r.get_json()
    if expect is not None:
        assert payout["amount"] == expect
    r = confirm(pilot.b, payout["id"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "paid"
    return r.get_json()


def disbursed_grant(make: Factory, amount: str = "4000.00") -> Pilot:
    """An approved grant whose default advance (50 %) has been paid: state ``disbursed``."""
    pilot = approved_grant(make, amount)
    pay(pilot, "advance")
    assert pilot.get()["state"] == "disbursed"
    return pilot


def set_rate(caller: Caller, currency: str, rate: str, when: str | None = None) -> Any:
    r = caller.put(f"/exchange-rates/{when or month()}/{currency}", {"rate": rate})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def new_report(
    member: Caller, gid: int, kind: str, expenses: list[dict[str, Any]], **narrative: str
) -> dict[str, Any]:
    """A report filed as a draft by the city; the report as returned."""
    r = member.post(
        f"/grants/{gid}/reports",
        {
            "kind": kind,
            "narrative": narrative or {"activities": "Workshops in the harbour"},
            "expenses": expenses,
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def report_event(caller: Caller, rid: int, event: str, **body: Any) -> Any:
    return caller.post(f"/reports/{rid}/transitions", {"event": event, **body})


def file_report(
    pilot: Pilot,
    kind: str,
    expenses: list[dict[str, Any]],
    adjustments: list[tuple[int, str, str]] | None = None,
) -> dict[str, Any]:
    """Filed and submitted by the city, accepted by officer ``a``; the accepted report.

    ``adjustments`` are ``(line index, eligible EUR, reason)``.
    """
    report = new_report(pilot.member, pilot.id, kind, expenses)
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = {}
    if adjustments:
        lines = r.get_json()["expenses"]
        body["adjustments"] = [
            {"expense_id": lines[i]["id"], "eligible_eur": eur, "reason": why}
            for i, eur, why in adjustments
        ]
    r = report_event(pilot.a, report["id"], "accept", **body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "accepted"
    return r.get_json()


def final_reported_grant(
    make: Factory, spent_interim: str, spent_final: str, amount: str = "4000.00"
) -> Pilot:
    """A disbursed grant (advance 50 % paid) whose interim and final reports are accepted, with
    one EUR expense line each: state ``final_reported``."""
    pilot = disbursed_grant(make, amount)
    file_report(pilot, "interim", [expense("I-1", "EUR", spent_interim)])
    file_report(pilot, "final", [expense("F-1", "EUR", spent_final)])
    assert pilot.get()["state"] == "final_reported"
    return pilot


def refused(response: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    """Assert a refusal in the error shape of api.md; the body."""
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == status
    if reason is not None:
        assert body.get("reason") == reason, body
    return body
