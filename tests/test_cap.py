"""The cap: for each title, committed ≤ cap (5,000.00), always, also under concurrent requests.

committed = the approved amounts of the title's approved-or-later grants (domain.md, "The cap").
Figures are read as a user reads them, on GET /cities/{id}, and compared as exact strings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.cities.models import City, Title
from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from tests.conftest import needs_postgres
from tests.factories import Caller, Factory
from tests.live import Reply

COMMENT = "Decided by the board."


def figures(caller: Caller, city: City) -> dict[str, Any]:
    """The money figures of the city's (only) title, as ``caller`` sees them."""
    r = caller.get(f"/cities/{city.id}")
    assert r.status_code == 200
    (title,) = r.get_json()["titles"]
    return {k: title[k] for k in ("cap", "committed", "paid", "available")}


def grant_of(caller: Caller, grant_id: int) -> dict[str, Any]:
    r = caller.get(f"/grants/{grant_id}")
    assert r.status_code == 200
    return r.get_json()


def history(caller: Caller, grant_id: int) -> list[dict[str, Any]]:
    r = caller.get(f"/grants/{grant_id}/history")
    assert r.status_code == 200
    return r.get_json()


def draft(member: Caller, *amounts: str) -> dict[str, Any]:
    """A proposal made through the API by ``member``, with one budget line per amount."""
    start = today()
    r = member.post(
        "/grants",
        {
            "title": "Pilot",
            "summary": "",
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=60)).isoformat(),
            "budget_lines": [
                {"category": "services", "description": f"Part {i}", "amount": a}
                for i, a in enumerate(amounts, 1)
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@dataclass
class Pearl:
    city: City
    member: Caller
    officer: Caller


@pytest.fixture
def pearl(make: Factory) -> Pearl:
    """A titled city with the default cap of 5,000.00, one of its members and an officer."""
    city = make.city()
    return Pearl(city, make.as_role("city_member", city=city), make.as_role("finance_officer"))


# ---------------------------------------------------------------------------------------------
# At submit: the early, friendly refusal


def test_a_proposal_above_the_headroom_cannot_be_submitted(make, pearl):
    make.grant(pearl.city, state="approved", amounts=(300_000,))
    too_much = draft(pearl.member, "2500.00")
    assert figures(pearl.member, pearl.city) == {
        "cap": "5000.00",
        "committed": "3000.00",
        "paid": "0.00",
        "available": "2000.00",
    }

    r = pearl.member.fire(too_much["id"], "submit")

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "cap_exceeded"
    assert grant_of(pearl.member, too_much["id"])["state"] == "draft"
    assert figures(pearl.member, pearl.city)["committed"] == "3000.00"


def test_a_proposal_of_exactly_the_headroom_can_be_submitted_one_cent_more_cannot(make, pearl):
    make.grant(pearl.city, state="approved", amounts=(123_456, 176_545))  # 3,000.01
    assert figures(pearl.member, pearl.city)["available"] == "1999.99"
    one_cent_over = draft(pearl.member, "1000.00", "1000.00")
    exactly = draft(pearl.member, "999.99", "1000.00")

    over = pearl.member.fire(one_cent_over["id"], "submit")
    fits = pearl.member.fire(exactly["id"], "submit")

    assert over.status_code == 409
    assert over.get_json()["reason"] == "cap_exceeded"
    assert fits.status_code == 200, fits.get_json()
    assert fits.get_json()["state"] == "submitted"
    # Submitting does not commit anything.
    assert figures(pearl.member, pearl.city)["committed"] == "3000.01"


def test_submitted_proposals_do_not_count_only_approvals_do(make, pearl):
    first, second = draft(pearl.member, "3000.00"), draft(pearl.member, "3000.00")

    assert pearl.member.fire(first["id"], "submit").status_code == 200
    assert pearl.member.fire(second["id"], "submit").status_code == 200
    assert figures(pearl.officer, pearl.city)["committed"] == "0.00"

    assert pearl.officer.fire(first["id"], "approve").status_code == 200
    r = pearl.officer.fire(second["id"], "approve")

    assert r.status_code == 409
    assert r.get_json()["reason"] == "cap_exceeded"
    assert grant_of(pearl.officer, second["id"])["state"] == "submitted"
    assert figures(pearl.officer, pearl.city)["committed"] == "3000.00"


# ---------------------------------------------------------------------------------------------
# At approve: the guarded, atomic commitment


def test_an_approval_that_would_exceed_the_cap_is_refused(make, pearl):
    make.grant(pearl.city, state="approved", amounts=(300_000,))
    asked = make.grant(pearl.city, state="submitted", amounts=(250_000,))

    r = pearl.officer.fire(asked.id, "approve")

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "cap_exceeded"
    seen = grant_of(pearl.officer, asked.id)
    assert (seen["state"], seen["approved_amount"]) == ("submitted", None)
    assert figures(pearl.officer, pearl.city)["committed"] == "3000.00"
    assert "approve" not in [e["action"] for e in history(pearl.officer, asked.id)]


def test_an_approval_of_less_than_requested_that_fits_passes(make, pearl):
    make.grant(pearl.city, state="approved", amounts=(300_000,))
    asked = make.grant(pearl.city, state="submitted", amounts=(150_000, 100_000))  # 2,500.00

    one_cent_too_much = pearl.officer.fire(asked.id, "approve", approved_amount="2000.01")
    assert one_cent_too_much.status_code == 409
    assert one_cent_too_much.get_json()["reason"] == "cap_exceeded"
    assert figures(pearl.officer, pearl.city)["committed"] == "3000.00"

    r = pearl.officer.fire(asked.id, "approve", approved_amount="2000.00")

    assert r.status_code == 200, r.get_json()
    for seen in (r.get_json(), grant_of(pearl.member, asked.id)):
        assert seen["state"] == "approved"
        assert seen["requested_amount"] == "2500.00"
        assert seen["approved_amount"] == "2000.00"
    assert figures(pearl.member, pearl.city) == {
        "cap": "5000.00",
        "committed": "5000.00",
        "paid": "0.00",
        "available": "0.00",
    }
    (approval,) = [e for e in history(pearl.officer, asked.id) if e["action"] == "approve"]
    assert approval["data"]["approved_amount"] == "2000.00"


def test_approving_more_than_requested_is_over_approved(make, pearl):
    asked = make.grant(pearl.city, state="submitted", amounts=(100_000,))

    r = pearl.officer.fire(asked.id, "approve", approved_amount="1000.01")

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "over_approved"
    seen = grant_of(pearl.officer, asked.id)
    assert (seen["state"], seen["approved_amount"]) == ("submitted", None)
    assert figures(pearl.officer, pearl.city)["committed"] == "0.00"
    # The requested amount itself, given explicitly, is fine.
    r = pearl.officer.fire(asked.id, "approve", approved_amount="1000.00")
    assert r.status_code == 200
    assert r.get_json()["approved_amount"] == "1000.00"
    assert figures(pearl.officer, pearl.city)["committed"] == "1000.00"


def test_an_approval_without_an_amount_approves_the_requested_amount(make, pearl):
    asked = make.grant(pearl.city, state="submitted", amounts=(123_456, 1))

    r = pearl.officer.fire(asked.id, "approve")

    assert r.status_code == 200
    assert r.get_json()["approved_amount"] == "1234.57"
    assert figures(pearl.officer, pearl.city)["committed"] == "1234.57"
    assert figures(pearl.officer, pearl.city)["available"] == "3765.43"


# ---------------------------------------------------------------------------------------------
# What counts


def test_rejected_and_withdrawn_grants_never_count(make, pearl):
    # Left behind by earlier decisions, for the full cap each: they count for nothing.
    make.grant(pearl.city, state="rejected", amounts=(500_000,))
    make.grant(pearl.city, state="withdrawn", amounts=(500_000,))
    rejected, withdrawn = draft(pearl.member, "4000.00"), draft(pearl.member, "4000.00")
    assert pearl.member.fire(rejected["id"], "submit").status_code == 200
    assert pearl.member.fire(withdrawn["id"], "submit").status_code == 200

    assert pearl.officer.fire(rejected["id"], "reject", comment=COMMENT).status_code == 200
    assert pearl.member.fire(withdrawn["id"], "withdraw").status_code == 200
    assert figures(pearl.member, pearl.city)["available"] == "5000.00"

    full = draft(pearl.member, "2500.00", "2500.00")
    assert pearl.member.fire(full["id"], "submit").status_code == 200
    r = pearl.officer.fire(full["id"], "approve")

    assert r.status_code == 200, r.get_json()
    assert figures(pearl.member, pearl.city)["committed"] == "5000.00"
    assert figures(pearl.member, pearl.city)["available"] == "0.00"


def test_a_terminated_grant_with_nothing_paid_gives_its_amount_back(make, pearl):
    approved = make.grant(pearl.city, state="approved", amounts=(300_000,))
    asked = make.grant(pearl.city, state="submitted", amounts=(250_000,))
    assert pearl.officer.fire(asked.id, "approve").get_json()["reason"] == "cap_exceeded"

    assert pearl.officer.fire(approved.id, "terminate", comment=COMMENT).status_code == 200
    assert figures(pearl.officer, pearl.city)["committed"] == "0.00"
    r = pearl.officer.fire(asked.id, "approve")

    assert r.status_code == 200
    assert figures(pearl.officer, pearl.city)["committed"] == "2500.00"


def test_the_cap_is_per_title(make, pearl):
    """Another city's approvals leave this city's headroom alone."""
    other = make.city()
    make.grant(other, state="approved", amounts=(500_000,))
    asked = make.grant(pearl.city, state="submitted", amounts=(500_000,))

    assert pearl.officer.fire(asked.id, "approve").status_code == 200
    assert figures(pearl.officer, pearl.city)["committed"] == "5000.00"
    assert figures(pearl.officer, other)["committed"] == "5000.00"


# ---------------------------------------------------------------------------------------------
# Who sees the figures


SEES_FIGURES = {
    "the city's member": lambda make, city: make.as_role("city_member", city=city),
    "the city's mentor": lambda make, city: make.as_role("mentor", mentor_of=(city,)),
    "a finance officer": lambda make, city: make.as_role("finance_officer"),
    "an auditor": lambda make, city: make.as_role("auditor"),
    "an admin": lambda make, city: make.as_role("admin"),
}
SEES_NO_FIGURES = {
    "an unassigned mentor": lambda make, city: make.as_role("mentor", mentor_of=(make.city(),)),
    "another city's member": lambda make, city: make.as_role("city_member", city=make.city()),
}


@pytest.mark.parametrize("viewer", [*SEES_FIGURES, *SEES_NO_FIGURES])
def test_who_sees_the_titles_money(make, viewer):
    city = make.city()
    make.grant(city, state="approved", amounts=(123_456,))
    make.grant(city, state="disbursed", amounts=(176_544,))
    make.grant(city, state="submitted", amounts=(99_999,))
    caller = {**SEES_FIGURES, **SEES_NO_FIGURES}[viewer](make, city)

    on_the_city = figures(caller, city)
    listed = caller.get("/cities", query_string={"page_size": 100}).get_json()
    (in_the_list,) = [c for c in listed if c["id"] == city.id]

    if viewer in SEES_FIGURES:
        expected = {
            "cap": "5000.00",
            "committed": "3000.00",
            "paid": "0.00",
            "available": "2000.00",
        }
    else:
        expected = {"cap": None, "committed": None, "paid": None, "available": None}
    assert on_the_city == expected
    assert {k: in_the_list["titles"][0][k] for k in expected} == expected


# ---------------------------------------------------------------------------------------------
# Under real concurrency (PostgreSQL): the app served by a threaded WSGI server in this process
# (the ``live`` fixture, tests/live.py); every request comes from its own client thread over its
# own HTTP connection and runs in its own server thread with its own database connection; the
# client threads are released together by a barrier.


def approve_at_once(live: Any, token: str, grant_ids: list[int]) -> list[Reply]:
    replies = live.at_once(
        [("POST", f"/grants/{gid}/transitions", token, {"event": "approve"}) for gid in grant_ids]
    )
    assert len(replies) == len(grant_ids), "a request never came back"
    return replies


@needs_postgres
def test_twenty_simultaneous_approvals_never_break_the_cap(make, live):
    city = make.city()  # cap 5,000.00
    title_id = city.titles[0].id
    officer = make.as_role("finance_officer")
    grant_ids = [make.grant(city, state="submitted", amounts=(40_000,)).id for _ in range(20)]
    db.session.rollback()  # hold no transaction while the server works

    replies = approve_at_once(live, officer.token, grant_ids)

    assert not [r for r in replies if r.status >= 500], [r.text for r in replies]
    assert Counter(r.status for r in replies) == {200: 12, 409: 8}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} == {"cap_exceeded"}
    assert {r.body["approved_amount"] for r in replies if r.status == 200} == {"400.00"}

    db.session.rollback()  # read what the server's connections committed
    assert figures(officer, city) == {
        "cap": "5000.00",
        "committed": "4800.00",
        "paid": "0.00",
        "available": "200.00",
    }
    in_db = db.session.execute(
        select(Grant.state, func.count(), func.coalesce(func.sum(Grant.approved_cents), 0))
        .where(Grant.id.in_(grant_ids))
        .group_by(Grant.state)
    ).all()
    assert {state: (n, cents) for state, n, cents in in_db} == {
        "approved": (12, 480_000),
        "submitted": (8, 0),
    }
    assert db.session.scalar(select(Title.committed_cents).where(Title.id == title_id)) == 480_000
    approvals = db.session.scalars(
        select(AuditEvent.grant_id).where(
            AuditEvent.grant_id.in_(grant_ids), AuditEvent.action == "approve"
        )
    ).all()
    # The winners are exactly the grants the database holds as approved, each audited once.
    winners = sorted(r.body["id"] for r in replies if r.status == 200)
    assert sorted(approvals) == winners
    assert winners == sorted(
        db.session.scalars(
            select(Grant.id).where(Grant.id.in_(grant_ids), Grant.state == "approved")
        )
    )


@needs_postgres
def test_one_grant_approved_by_ten_threads_at_once_is_approved_once(make, live):
    city = make.city()
    officer = make.as_role("finance_officer")
    grant_id = make.grant(city, state="submitted", amounts=(123_456,)).id
    db.session.rollback()

    replies = approve_at_once(live, officer.token, [grant_id] * 10)

    assert Counter(r.status for r in replies) == {200: 1, 409: 9}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} <= {
        "invalid_transition",
        "stale",
    }
    db.session.rollback()
    seen = grant_of(officer, grant_id)
    assert (seen["state"], seen["approved_amount"]) == ("approved", "1234.56")
    assert [e["action"] for e in history(officer, grant_id)].count("approve") == 1
    assert figures(officer, city)["committed"] == "1234.56"
    assert figures(officer, city)["available"] == "3765.44"
