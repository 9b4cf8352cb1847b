"""Who may ask for seed money: a titled, non-capital city of an eligible country, for a pilot
inside the title's validity (domain.md, "Cities, titles, eligibility")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.cities.models import City, Title
from grants.db import today
from grants.extensions import db
from grants.grant.models import BudgetLine, Grant
from tests.factories import Caller, Factory

DAY = dt.timedelta(days=1)


def proposal(start: dt.date, end: dt.date, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Harbour stories",
        "summary": "Stories of the harbour, told by its people.",
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "budget_lines": [
            {"category": "fees", "description": "Storytellers", "amount": "1500.00"},
            {"category": "venue", "description": "Warehouse", "amount": "800.50"},
        ],
    }
    body.update(fields)
    return body


def stored_grants(make: Factory) -> int:
    """How many grants exist, as a finance officer (who sees them all) counts them, checked
    against the database itself."""
    officer = make.as_role("finance_officer")
    r = officer.get("/grants")
    assert r.status_code == 200
    listed = len(r.get_json())
    in_db = db.session.scalar(select(func.count()).select_from(Grant))
    lines = db.session.scalar(select(func.count()).select_from(BudgetLine))
    assert listed == in_db
    assert (in_db == 0) == (lines == 0)
    return in_db


def history(caller: Caller, grant_id: int) -> list[str]:
    return [e["action"] for e in caller.get(f"/grants/{grant_id}/history").get_json()]


# ---------------------------------------------------------------------------------------------
# Proposing


# Dates are computed when a test runs (lambdas), never at import: "today" is the UTC date.
INELIGIBLE = {
    "no title": lambda: dict(title=False),
    "expired title": lambda: dict(valid_from=today() - 400 * DAY, valid_until=today() - DAY),
    "title not yet valid": lambda: dict(valid_from=today() + DAY, valid_until=today() + 400 * DAY),
    "country not eligible": lambda: dict(country="NO"),
    "capital": lambda: dict(is_capital=True),
}
# Eligibility is checked before dates and amounts (api.md): a body that is wrong in every other
# way still gets the 409.
BODIES = {
    "valid body": lambda: proposal(today(), today() + 30 * DAY),
    "invalid dates and amount": lambda: proposal(
        today() + 30 * DAY,
        today(),
        budget_lines=[{"category": "fees", "description": "x", "amount": "4999.999"}],
    ),
}


@pytest.mark.parametrize("body", BODIES.keys())
@pytest.mark.parametrize("city_kind", INELIGIBLE.keys())
def test_an_ineligible_city_cannot_propose(make, city_kind, body):
    city = make.city(**INELIGIBLE[city_kind]())
    member = make.as_role("city_member", city=city)

    r = member.post("/grants", BODIES[body]())

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "city_not_eligible"
    assert stored_grants(make) == 0


def test_the_same_proposal_from_an_eligible_city_is_stored(make):
    """The positive control of the table above."""
    member = make.as_role("city_member", city=make.city())

    r = member.post("/grants", BODIES["valid body"]())

    assert r.status_code == 201, r.get_json()
    assert r.get_json()["requested_amount"] == "2300.50"
    assert stored_grants(make) == 1


def test_the_eligible_countries_are_a_setting(make, app, monkeypatch):
    danish = make.as_role("city_member", city=make.city(country="DK"))
    norwegian = make.as_role("city_member", city=make.city(country="NO"))
    monkeypatch.setitem(app.config, "ELIGIBLE_COUNTRIES", ("NO", "SE"))

    r = danish.post("/grants", BODIES["valid body"]())
    assert r.status_code == 409
    assert r.get_json()["reason"] == "city_not_eligible"
    assert stored_grants(make) == 0

    assert norwegian.post("/grants", BODIES["valid body"]()).status_code == 201
    assert stored_grants(make) == 1


def test_a_title_from_today_or_until_today_counts(make):
    """Validity bounds are inclusive: a title starting today, or ending today, covers today."""
    starts = make.as_role(
        "city_member", city=make.city(valid_from=today(), valid_until=today() + 30 * DAY)
    )
    ends = make.as_role(
        "city_member", city=make.city(valid_from=today() - 30 * DAY, valid_until=today())
    )

    assert starts.post("/grants", proposal(today(), today() + 30 * DAY)).status_code == 201
    assert ends.post("/grants", proposal(today(), today())).status_code == 201
    assert stored_grants(make) == 2


def validity() -> tuple[dt.date, dt.date]:
    """The title of the date tests: valid from 30 days ago to 60 days ahead."""
    return today() - 30 * DAY, today() + 60 * DAY


BOTH = {"start_date", "end_date"}
OUTSIDE = {
    # case: (start, end) from (valid_from, valid_until), and the fields in error
    "starts the day before the validity": (lambda f, u: (f - DAY, u), {"start_date"}),
    "ends the day after the validity": (lambda f, u: (f, u + DAY), {"end_date"}),
    "starts and ends outside": (lambda f, u: (f - 90 * DAY, u + 90 * DAY), BOTH),
    "lies wholly before": (lambda f, u: (f - 60 * DAY, f - DAY), BOTH),
    "lies wholly after": (lambda f, u: (u + DAY, u + 9 * DAY), BOTH),
}


@pytest.mark.parametrize("case", OUTSIDE.keys())
def test_pilot_dates_outside_the_titles_validity_are_refused(make, case):
    valid_from, valid_until = validity()
    dates, fields = OUTSIDE[case]
    start, end = dates(valid_from, valid_until)
    city = make.city(valid_from=valid_from, valid_until=valid_until)
    member = make.as_role("city_member", city=city)

    r = member.post("/grants", proposal(start, end))

    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]["json"]) == fields
    assert stored_grants(make) == 0


def test_a_pilot_may_fill_the_whole_validity(make):
    valid_from, valid_until = validity()
    city = make.city(valid_from=valid_from, valid_until=valid_until)
    member = make.as_role("city_member", city=city)

    r = member.post("/grants", proposal(valid_from, valid_until))

    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["start_date"], r.get_json()["end_date"]) == (
        valid_from.isoformat(),
        valid_until.isoformat(),
    )


def test_an_end_before_the_start_is_refused(make):
    member = make.as_role("city_member", city=make.city())

    r = member.post("/grants", proposal(today() + 10 * DAY, today() + 9 * DAY))

    assert r.status_code == 422, r.get_json()
    assert list(r.get_json()["errors"]["json"]) == ["end_date"]
    assert stored_grants(make) == 0
    # A one-day pilot is fine.
    assert member.post("/grants", proposal(today(), today())).status_code == 201


def test_an_edit_cannot_move_the_dates_outside_or_reverse_them(make):
    valid_from, valid_until = validity()
    city = make.city(valid_from=valid_from, valid_until=valid_until)
    member = make.as_role("city_member", city=city)
    grant = member.post("/grants", proposal(today(), today() + 10 * DAY)).get_json()

    outside = member.patch(f"/grants/{grant['id']}", {"end_date": str(valid_until + DAY)})
    reversed_ = member.patch(f"/grants/{grant['id']}", {"start_date": str(today() + 11 * DAY)})

    assert outside.status_code == 422
    assert list(outside.get_json()["errors"]["json"]) == ["end_date"]
    assert reversed_.status_code == 422
    assert list(reversed_.get_json()["errors"]["json"]) == ["end_date"]
    seen = member.get(f"/grants/{grant['id']}").get_json()
    assert (seen["start_date"], seen["end_date"]) == (grant["start_date"], grant["end_date"])


# ---------------------------------------------------------------------------------------------
# Submitting: eligibility is checked again, and a proposal needs a budget


def _became_capital(city: City, title: Title, app: Any, monkeypatch: Any) -> None:
    city.is_capital = True


def _country_dropped(city: City, title: Title, app: Any, monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "ELIGIBLE_COUNTRIES", ("EE", "FI"))


def _title_expired(city: City, title: Title, app: Any, monkeypatch: Any) -> None:
    title.valid_until = today() - DAY


def _new_title_replaced_it(city: City, title: Title, app: Any, monkeypatch: Any) -> None:
    """The proposal belongs to a title that no longer covers today; a later one does."""
    title.valid_from, title.valid_until = today() - 400 * DAY, today() - DAY
    db.session.flush()
    db.session.add(
        Title(
            city_id=city.id,
            year=title.year + 1,
            valid_from=today(),
            valid_until=today() + 365 * DAY,
            cap_cents=500_000,
        )
    )


BECAME_INELIGIBLE = {
    "became a capital": _became_capital,
    "country no longer eligible": _country_dropped,
    "title expired": _title_expired,
    "a later title replaced it": _new_title_replaced_it,
}


@pytest.mark.parametrize("state", ["draft", "changes_requested"])
@pytest.mark.parametrize("change", BECAME_INELIGIBLE.keys())
def test_a_city_that_became_ineligible_cannot_submit(make, app, monkeypatch, change, state):
    city = make.city()
    member = make.as_role("city_member", city=city)
    grant = make.grant(city, state=state, author=member.user)
    grant_id = grant.id
    assert "submit" in member.get(f"/grants/{grant_id}").get_json()["available_events"]

    BECAME_INELIGIBLE[change](city, city.titles[0], app, monkeypatch)
    db.session.commit()
    r = member.fire(grant_id, "submit")

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "city_not_eligible"
    assert member.get(f"/grants/{grant_id}").get_json()["state"] == state
    assert "submit" not in history(member, grant_id)


def test_a_proposal_without_budget_lines_cannot_be_submitted(make):
    member = make.as_role("city_member", city=make.city())
    created = member.post("/grants", proposal(today(), today() + 30 * DAY, budget_lines=[]))
    assert created.status_code == 201, created.get_json()
    grant = created.get_json()
    assert (grant["requested_amount"], grant["budget_lines"]) == ("0.00", [])

    r = member.fire(grant["id"], "submit")

    assert r.status_code == 409, r.get_json()
    assert r.get_json()["reason"] == "invalid_transition"
    assert member.get(f"/grants/{grant['id']}").get_json()["state"] == "draft"
    assert history(member, grant["id"]) == ["create"]


def test_a_proposal_whose_budget_was_emptied_cannot_be_submitted(make):
    member = make.as_role("city_member", city=make.city())
    grant = member.post("/grants", proposal(today(), today() + 30 * DAY)).get_json()
    emptied = member.patch(f"/grants/{grant['id']}", {"budget_lines": []})
    assert emptied.status_code == 200
    assert emptied.get_json()["requested_amount"] == "0.00"

    r = member.fire(grant["id"], "submit")

    assert r.status_code == 409
    assert r.get_json()["reason"] == "invalid_transition"
    assert member.get(f"/grants/{grant['id']}").get_json()["state"] == "draft"
    audit = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.grant_id == grant["id"])
    ).all()
    assert audit == ["create", "update"]
