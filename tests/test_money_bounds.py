"""A grant's total is bounded by the money maximum, 9,999,999.99 EUR (``grants.money.MAX_CENTS``).

Each budget line may be at most the maximum, and so may their sum: over it is a 422 naming
``budget_lines``, with nothing written, so a requested total can never overflow a column. The
same bound holds for a report's expenses once converted to EUR at submit. Run on SQLite and, with
``TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.db import today
from grants.extensions import db
from grants.grant.models import BudgetLine, Grant
from grants.money import MAX_CENTS
from tests.factories import Caller, Factory
from tests.money_helpers import (
    Pilot,
    disbursed_grant,
    expense,
    new_report,
    report_event,
    set_rate,
)

MAX = "9999999.99"


def proposal(*amounts: str) -> dict[str, Any]:
    start = today()
    return {
        "title": "A very large pilot",
        "summary": "",
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=60)).isoformat(),
        "budget_lines": [
            {"category": "services", "description": f"Part {i}", "amount": a}
            for i, a in enumerate(amounts, 1)
        ],
    }


def stored() -> tuple[int, int, int, int]:
    """Grants, budget lines, their total (cents) and audit events, as the database holds them."""
    db.session.rollback()  # read what the requests committed
    return (
        db.session.scalar(select(func.count(Grant.id))) or 0,
        db.session.scalar(select(func.count(BudgetLine.id))) or 0,
        int(db.session.scalar(select(func.coalesce(func.sum(BudgetLine.amount_cents), 0))) or 0),
        db.session.scalar(select(func.count(AuditEvent.id))) or 0,
    )


def refused_on_budget_lines(r: Any) -> str:
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert list(body["errors"]["json"]) == ["budget_lines"], body
    (message,) = body["errors"]["json"]["budget_lines"]
    return message


@pytest.fixture
def member(make: Factory) -> Caller:
    return make.as_role("city_member", city=make.city())


def test_fifty_lines_of_the_maximum_are_422_and_nothing_is_written(member: Caller) -> None:
    before = stored()

    r = member.post("/grants", proposal(*[MAX] * 50))

    message = refused_on_budget_lines(r)
    assert "9999999.99" in message
    assert "499999999.50" in message  # the total asked for, in words the city can check
    assert stored() == before
    listed = member.get("/grants")
    assert listed.status_code == 200
    assert listed.get_json() == []


def test_a_total_of_exactly_the_maximum_is_accepted_one_cent_more_is_not(
    member: Caller,
) -> None:
    over = member.post("/grants", proposal("9999999.00", "0.99", "0.01"))
    refused_on_budget_lines(over)
    assert stored()[:3] == (0, 0, 0)

    r = member.post("/grants", proposal("9999999.00", "0.99"))

    assert r.status_code == 201, r.get_json()
    grant = r.get_json()
    assert grant["requested_amount"] == MAX
    assert [b["amount"] for b in grant["budget_lines"]] == ["9999999.00", "0.99"]
    assert member.get(f"/grants/{grant['id']}").get_json()["requested_amount"] == MAX
    assert stored()[:3] == (1, 2, MAX_CENTS)


def test_a_patch_over_the_maximum_is_422_and_leaves_the_grant_as_it_was(
    member: Caller,
) -> None:
    created = member.post("/grants", proposal("1000.00"))
    assert created.status_code == 201, created.get_json()
    grant = created.get_json()
    before = stored()

    r = member.patch(
        f"/grants/{grant['id']}",
        {"title": "Renamed", "budget_lines": proposal(*[MAX] * 50)["budget_lines"]},
    )

    refused_on_budget_lines(r)
    assert stored() == before
    after = member.get(f"/grants/{grant['id']}").get_json()
    assert (after["title"], after["requested_amount"], after["updated_at"]) == (
        "A very large pilot",
        "1000.00",
        grant["updated_at"],
    )
    assert [b["amount"] for b in after["budget_lines"]] == ["1000.00"]
    history = member.get(f"/grants/{grant['id']}/history").get_json()
    assert [e["action"] for e in history] == ["create"]


def test_the_approved_figures_of_a_maximal_grant_read_back_exactly(make: Factory) -> None:
    """Amounts near the maximum survive the round trip through the 64-bit columns."""
    city = make.city(cap=MAX_CENTS)
    member = make.as_role("city_member", city=city)
    officer = make.as_role("finance_officer")
    created = member.post("/grants", proposal(*["199999.99"] * 49, "200000.48"))
    assert created.status_code == 201, created.get_json()
    gid = created.get_json()["id"]
    assert member.fire(gid, "submit").status_code == 200

    r = officer.fire(gid, "approve")

    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["requested_amount"], r.get_json()["approved_amount"]) == (MAX, MAX)
    (title,) = officer.get(f"/cities/{city.id}").get_json()["titles"]
    assert (title["cap"], title["committed"], title["available"]) == (MAX, MAX, "0.00")


# ---------------------------------------------------------------------------------------------
# A report's expenses, once converted to EUR


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


def test_a_report_whose_expenses_convert_to_more_than_the_maximum_is_422_and_stays_draft(
    pilot: Pilot,
) -> None:
    set_rate(pilot.a, "HUF", "0.000001")  # a rate no bank would give: 1 HUF = 1,000,000 EUR
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "HUF", "10.00")])

    r = report_event(pilot.member, report["id"], "submit")

    assert r.status_code == 422, r.get_json()
    assert list(r.get_json()["errors"]["json"]) == ["expenses"]
    after = pilot.member.get(f"/reports/{report['id']}").get_json()
    assert (after["state"], after["submitted_at"], after["total_eur"]) == ("draft", None, None)
    assert [e["amount_eur"] for e in after["expenses"]] == [None]
    assert "report_submit" not in pilot.actions()
    assert pilot.get()["reported_eur"] == "0.00"


def test_a_report_of_exactly_the_maximum_in_eur_is_submitted_one_cent_more_is_not(
    pilot: Pilot,
) -> None:
    lines = [expense("I-1", "EUR", "9999999.00"), expense("I-2", "EUR", "0.99")]
    report = new_report(pilot.member, pilot.id, "interim", [*lines, expense("I-3", "EUR", "0.01")])

    over = report_event(pilot.member, report["id"], "submit")

    assert over.status_code == 422, over.get_json()
    assert list(over.get_json()["errors"]["json"]) == ["expenses"]
    edited = pilot.member.patch(f"/reports/{report['id']}", {"expenses": lines})
    assert edited.status_code == 200, edited.get_json()
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["state"], r.get_json()["total_eur"]) == ("submitted", MAX)
    assert pilot.get()["reported_eur"] == MAX
