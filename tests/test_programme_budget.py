"""The programme budget per title year (issue 14, item 4): all the titles of one year share it.

An admin sets it (API and page, audited); finance, auditors and admins read the year's budget,
committed, paid, recovered and available, which agree to the cent with the grants' own figures;
an approval that would bring the year's committed money above the budget is refused with 409
``budget_exceeded`` and its figures; a year without a budget has no programme limit. Under real
concurrency (PostgreSQL), twenty approvals across several titles of one year whose caps would
allow more than the budget never commit more than it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.cities.models import Title
from grants.db import today, utcnow
from grants.extensions import db
from grants.grant.models import Grant
from grants.payouts.models import Payout
from tests.conftest import needs_postgres
from tests.factories import Caller, Factory
from tests.money_helpers import (
    COMMENT,
    approved_grant,
    refused,
    submitted_grant,
)

FIGURES = ("year", "budget", "committed", "paid", "recovered", "available")


def year_of(caller: Caller, year: int) -> dict[str, Any]:
    r = caller.get(f"/title-years/{year}")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert set(body) == set(FIGURES)
    return body


def set_budget(admin: Caller, year: int, budget: str) -> Any:
    return admin.put(f"/title-years/{year}/budget", {"budget": budget})


def this_year() -> int:
    """The title year of the pilots the money helpers make (a title valid from 30 days ago)."""
    return (today() - dt.timedelta(days=30)).year


@pytest.fixture
def admin(make: Factory) -> Caller:
    return make.as_role("admin")


# ---------------------------------------------------------------------------------------------
# Setting and reading the budget


def test_a_year_without_a_budget_has_no_programme_limit(make: Factory, admin: Caller) -> None:
    first = approved_grant(make, "4000.00")
    second = approved_grant(make, "4500.00")  # another title of the same year
    assert first.city.titles[0].year == second.city.titles[0].year == this_year()
    assert year_of(admin, this_year()) == {
        "year": this_year(),
        "budget": None,
        "committed": "8500.00",
        "paid": "0.00",
        "recovered": "0.00",
        "available": None,
    }


def test_the_admin_sets_the_budget_and_the_audit_trail_keeps_each_change(
    make: Factory, admin: Caller
) -> None:
    approved_grant(make, "1234.56")
    year = this_year()
    r = set_budget(admin, year, "20000.00")
    assert r.status_code == 200, r.get_json()
    assert r.get_json() == {
        "year": year,
        "budget": "20000.00",
        "committed": "1234.56",
        "paid": "0.00",
        "recovered": "0.00",
        "available": "18765.44",
    }
    assert set_budget(admin, year, "15000.50").status_code == 200
    assert set_budget(admin, year, "15000.50").status_code == 200  # the same again: no event
    for reader in ("finance_officer", "auditor"):
        assert year_of(make.as_role(reader), year)["budget"] == "15000.50"
    db.session.rollback()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "budget_set").order_by(AuditEvent.id)
    ).all()
    assert [(e.subject_type, e.subject_id, e.actor_id) for e in events] == [
        ("title_year", year, admin.user.id)
    ] * 2
    assert [(e.data["from"], e.data["to"]) for e in events] == [
        (None, "20000.00"),
        ("20000.00", "15000.50"),
    ]


def test_only_admins_set_it_and_only_staff_read_it(make: Factory) -> None:
    city = make.city()
    year = city.titles[0].year
    for role in ("finance_officer", "auditor"):
        refused(set_budget(make.as_role(role), year, "100.00"), 403)
    for role in ("city_member", "mentor"):
        caller = make.in_scope(role, city)
        refused(caller.get(f"/title-years/{year}"), 403)
        refused(set_budget(caller, year, "100.00"), 403)
    assert year_of(make.as_role("finance_officer"), year)["budget"] is None


@pytest.mark.parametrize(
    "body",
    [{"budget": 1000}, {"budget": "1000"}, {"budget": "-1.00"}, {"budget": "1.005"}, {}],
)
def test_a_malformed_budget_is_422_and_changes_nothing(admin: Caller, body: Any) -> None:
    refused(admin.put("/title-years/2026/budget", body), 422)
    assert year_of(admin, 2026)["budget"] is None


def test_a_year_outside_the_programme_is_422(admin: Caller) -> None:
    refused(admin.get("/title-years/1999"), 422)
    refused(set_budget(admin, 2101, "10.00"), 422)


def test_a_budget_below_what_is_committed_is_refused_and_changes_nothing(
    make: Factory, admin: Caller
) -> None:
    approved_grant(make, "3000.00")
    year = this_year()
    assert set_budget(admin, year, "5000.00").status_code == 200
    body = refused(set_budget(admin, year, "2999.99"), 409, "budget_exceeded")
    assert "2,999.99\u00a0EUR" in body["message"] and "3,000.00\u00a0EUR" in body["message"]
    assert year_of(admin, year)["budget"] == "5000.00"
    assert set_budget(admin, year, "3000.00").status_code == 200  # exactly committed: allowed


# ---------------------------------------------------------------------------------------------
# Enforcement on approval


def test_an_approval_above_the_years_budget_is_refused_with_the_figures(
    make: Factory, admin: Caller
) -> None:
    approved_grant(make, "4000.00")  # one title of the year
    year = this_year()
    assert set_budget(admin, year, "6000.00").status_code == 200
    pilot = submitted_grant(make, "3000.00")  # another title of the same year, cap 5,000.00

    body = refused(pilot.a.fire(pilot.id, "approve"), 409, "budget_exceeded")
    assert "budget 6,000.00\u00a0EUR" in body["message"]
    assert "committed 4,000.00\u00a0EUR" in body["message"]
    assert "available 2,000.00\u00a0EUR" in body["message"]
    assert pilot.get()["state"] == "submitted"
    assert year_of(admin, year)["committed"] == "4000.00"
    db.session.rollback()
    assert (
        db.session.scalar(select(Title.committed_cents).where(Title.city_id == pilot.city.id)) == 0
    )

    r = pilot.a.fire(pilot.id, "approve", approved_amount="2000.00")  # what is left: allowed
    assert r.status_code == 200, r.get_json()
    assert year_of(admin, year)["available"] == "0.00"


def test_the_budget_of_another_year_does_not_limit_this_one(make: Factory, admin: Caller) -> None:
    assert set_budget(admin, this_year() + 1, "10.00").status_code == 200
    approved_grant(make, "4000.00")
    assert year_of(admin, this_year())["committed"] == "4000.00"
    assert year_of(admin, this_year() + 1)["committed"] == "0.00"


def paid(pilot: Any, kind: str, cents: int) -> None:
    """A payout of ``pilot`` paid (authorised by ``a``, confirmed by ``b``), written as the
    payout service leaves it: the figures read paid payouts, however they were paid."""
    db.session.add(
        Payout(
            grant_id=pilot.id,
            kind=kind,
            amount_cents=cents,
            state="paid",
            authorised_by_id=pilot.a.user.id,
            confirmed_by_id=pilot.b.user.id,
            confirmed_at=utcnow(),
            paid_on=today(),
            payment_reference=f"BANK-{kind}",
        )
    )
    db.session.commit()


def test_money_returned_by_an_ended_grant_is_available_again(make: Factory, admin: Caller) -> None:
    pilot = approved_grant(make, "4000.00")
    year = this_year()
    assert set_budget(admin, year, "4000.00").status_code == 200
    paid(pilot, "advance", 150_000)
    other = submitted_grant(make, "2500.00")
    refused(other.a.fire(other.id, "approve"), 409, "budget_exceeded")
    r = pilot.a.fire(pilot.id, "terminate", comment=COMMENT)
    assert r.status_code == 200, r.get_json()
    # A terminated grant counts only what it cost: paid 1,500.00, nothing recovered yet.
    assert year_of(admin, year)["committed"] == "1500.00"
    assert year_of(admin, year)["available"] == "2500.00"
    assert other.a.fire(other.id, "approve").status_code == 200
    assert year_of(admin, year)["available"] == "0.00"


# ---------------------------------------------------------------------------------------------
# The figures agree with the grants'


def test_the_years_figures_agree_to_the_cent_with_the_sum_of_its_grants(
    make: Factory, admin: Caller
) -> None:
    live = approved_grant(make, "1234.56")
    paid(live, "advance", 61_728)
    ended = approved_grant(make, "2500.00")
    paid(ended, "advance", 125_000)
    paid(ended, "recovery", 94_967)
    assert ended.a.fire(ended.id, "terminate", comment=COMMENT).status_code == 200
    cut = approved_grant(make, "3000.00", approved="2999.99")
    assert cut.get()["approved_amount"] == "2999.99"
    submitted_grant(make, "777.77")  # not committed
    rejected = submitted_grant(make, "555.55")
    assert rejected.a.fire(rejected.id, "reject", comment=COMMENT).status_code == 200
    year = this_year()
    assert set_budget(admin, year, "9000.00").status_code == 200

    grants = admin.get("/grants?page_size=100").get_json()
    assert len(grants) == 5

    def cents(text: str | None) -> int:
        return int(Decimal(text) * 100) if text else 0

    committed = paid_sum = recovered = 0
    for g in grants:
        paid_sum += cents(g["paid_amount"])
        recovered += cents(g["recovered_amount"])
        if g["state"] in ("closed", "terminated"):
            committed += cents(g["paid_amount"]) - cents(g["recovered_amount"])
        elif g["state"] not in ("draft", "submitted", "changes_requested", "rejected"):
            committed += cents(g["approved_amount"])

    def money(c: int) -> str:
        return f"{c // 100}.{c % 100:02d}"

    assert year_of(admin, year) == {
        "year": year,
        "budget": "9000.00",
        "committed": money(committed),
        "paid": money(paid_sum),
        "recovered": money(recovered),
        "available": money(900_000 - committed),
    }
    # And by hand: 1,234.56 + 2,999.99 live, 300.33 the terminated grant's cost.
    assert year_of(admin, year) == {
        "year": year,
        "budget": "9000.00",
        "committed": "4534.88",
        "paid": "1867.28",
        "recovered": "949.67",
        "available": "4465.12",
    }


# ---------------------------------------------------------------------------------------------
# The pages


def figures_of(html: str) -> dict[str, str]:
    dl = re.search(r'<dl class="figures".*?</dl>', html, re.S)
    assert dl, "no figures"
    return dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", dl.group(0)))


def test_staff_see_the_years_page_and_the_admin_sets_the_budget_on_it(
    make: Factory, admin: Caller, pages: Any
) -> None:
    approved_grant(make, "1500.00")
    year = this_year()
    finance = pages(make.user("finance_officer"))
    listing = finance.get("/title-years")
    assert listing.status_code == 200
    assert f'href="/title-years/{year}"' in listing.text
    assert "no budget set" in listing.text
    page = finance.get(f"/title-years/{year}")
    assert figures_of(page.text)["Budget"] == "no budget set"
    assert figures_of(page.text)["Committed"] == "1,500.00\u00a0EUR"
    assert 'name="budget"' not in page.text  # finance reads, the admin sets
    assert finance.post(f"/title-years/{year}", {"budget": "100.00"}).status_code == 403

    boss = pages(admin.user)
    boss.get(f"/title-years/{year}")
    r = boss.post(f"/title-years/{year}", {"budget": "1 400,00"})
    assert r.status_code == 409
    assert "below what the" in r.text and "1,400.00\u00a0EUR" in r.text
    r = boss.post(f"/title-years/{year}", {"budget": "12 000,50"}, follow_redirects=True)
    assert r.status_code == 200
    assert "The programme budget of" in r.text
    assert figures_of(r.text) == {
        "Budget": "12,000.50\u00a0EUR",
        "Committed": "1,500.00\u00a0EUR",
        "Paid": "0.00\u00a0EUR",
        "Recovered": "0.00\u00a0EUR",
        "Available": "10,500.50\u00a0EUR",
    }
    r = boss.post(f"/title-years/{year}", {"budget": "lots"})
    assert r.status_code == 422 and "has-error" in r.text
    assert year_of(admin, year)["budget"] == "12000.50"

    member = pages(make.user("city_member", city=make.city()))
    assert member.get("/title-years").status_code == 403
    assert member.get(f"/title-years/{year}").status_code == 403


def test_the_approval_shows_the_programme_years_available_amount(
    make: Factory, admin: Caller, pages: Any
) -> None:
    approved_grant(make, "4000.00")
    pilot = submitted_grant(make, "1000.00")
    officer = pages(pilot.a.user)
    headroom = re.search(
        r'<dl class="figures small headroom".*?</dl>', officer.get(f"/grants/{pilot.id}").text, re.S
    ).group(0)
    assert "Programme" not in headroom  # no budget set: nothing to say
    assert set_budget(admin, this_year(), "4500.00").status_code == 200
    headroom = re.search(
        r'<dl class="figures small headroom".*?</dl>', officer.get(f"/grants/{pilot.id}").text, re.S
    ).group(0)
    assert (
        f"Programme {this_year()}: available</dt><dd>500.00\u00a0EUR of 4,500.00\u00a0EUR"
        in headroom
    )
    # What decides the approval is the smaller of the two: the title could give 5,000.00.
    assert "Available to approve</dt><dd>500.00\u00a0EUR" in headroom
    assert "Title " in headroom and ": available</dt><dd>5,000.00\u00a0EUR" in headroom


# ---------------------------------------------------------------------------------------------
# Under real concurrency (PostgreSQL)


@needs_postgres
def test_twenty_concurrent_approvals_across_titles_never_exceed_the_years_budget(
    make: Factory, admin: Caller, live: Any
) -> None:
    """Four titles of one year, cap 5,000.00 each: their caps would allow all twenty approvals
    of 1,000.00 (20,000.00), the programme budget of 7,500.00 allows seven."""
    year = 2031
    cities = [make.city(year=year) for _ in range(4)]
    officer = make.as_role("finance_officer")
    grant_ids = [
        make.grant(cities[i % 4], state="submitted", amounts=(100_000,)).id for i in range(20)
    ]
    assert set_budget(admin, year, "7500.00").status_code == 200
    db.session.rollback()  # hold no transaction while the server works

    replies = live.at_once(
        [
            ("POST", f"/grants/{gid}/transitions", officer.token, {"event": "approve"})
            for gid in grant_ids
        ]
    )

    assert len(replies) == 20, "a request never came back"
    assert not [r for r in replies if r.status >= 500], [r.text for r in replies]
    assert Counter(r.status for r in replies) == {200: 7, 409: 13}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} == {"budget_exceeded"}
    db.session.rollback()  # read what the server's connections committed
    committed = db.session.scalar(select(func.sum(Title.committed_cents)).where(Title.year == year))
    approved = db.session.scalar(
        select(func.coalesce(func.sum(Grant.approved_cents), 0)).where(
            Grant.id.in_(grant_ids), Grant.state == "approved"
        )
    )
    assert committed == approved == 700_000
    assert year_of(admin, year)["committed"] == "7000.00"
    assert year_of(admin, year)["available"] == "500.00"
