"""SQL statements per request on the main reads and writes (issue 10, item 8).

Every statement the engine sends through a cursor is counted, with nothing left out: on SQLite
that includes the ``BEGIN`` we issue ourselves (a read begins a deferred transaction, a write
takes the lock up front with ``BEGIN IMMEDIATE``); PostgreSQL's driver begins implicitly, so
nothing is hidden there either. The grant read carries several budget lines, payouts and an
accepted report, so that a lazy load per line or a figure query per grant shows as a failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from grants.db import today, utcnow
from grants.extensions import db
from grants.grant.models import Grant
from grants.payouts.models import Payout
from grants.reports.models import ExpenseLine, Report
from tests.factories import Caller, Factory

#: The most statements each request may take (issue 10, item 8, and what we reached).
LIMITS = {
    "GET /users/me": 2,  # BEGIN (SQLite) + the token with its user
    "GET /grants/{id}": 3,  # + the grant with city, title, budget lines and figures
    "GET /grants": 5,  # + the count, the page of grants with figures, their budget lines
    # + the city with its titles, INSERT grant, one INSERT of all budget lines, the audit
    # chain (the head locked and read, the event, the head)
    "POST /grants": 8,
    # + the grant locked with city, title and lines, the city's titles (is the title still
    # current?), the UPDATE, the figures read after the lock, the audit chain's three
    "POST /grants/{id}/transitions submit": 9,
}


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    """The SQL sent to the database while the block runs (BEGIN and SAVEPOINT included).

    The test's session is shared with requests of the test client (same app context): it is
    emptied first, so that a request starts as it does in production, with nothing loaded.
    """
    seen: list[str] = []
    db.session.remove()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def assert_at_most(what: str, seen: list[str]) -> None:
    listing = "\n".join(f"  {i}. {s.split(chr(10))[0][:160]}" for i, s in enumerate(seen, 1))
    assert len(seen) <= LIMITS[what], f"{what}: {len(seen)} statements\n{listing}"


def _body(**kw: Any) -> dict[str, Any]:
    start = today()
    return {
        "title": "Lantern walk",
        "summary": "A pilot",
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=60)).isoformat(),
        "budget_lines": [
            {"category": "fees", "description": "Artists", "amount": "600.00"},
            {"category": "venue", "description": "Hall", "amount": "250.00"},
            {"category": "materials", "description": "Lanterns", "amount": "150.50"},
        ],
        **kw,
    }


def _money_around(make: Factory, grant: Grant) -> None:
    """Payouts (paid and authorised) and an accepted interim report with two lines."""
    officer, other = make.user("finance_officer"), make.user("finance_officer")
    for kind, cents, state in (("advance", 40_000, "paid"), ("advance", 10_000, "authorised")):
        db.session.add(
            Payout(
                grant_id=grant.id,
                kind=kind,
                amount_cents=cents,
                state=state,
                authorised_by_id=officer.id,
                confirmed_by_id=other.id if state == "paid" else None,
                paid_on=today() if state == "paid" else None,
            )
        )
        grant.payout_cents += cents
    lines = [
        ExpenseLine(
            position=i,
            invoice_number=f"INV-{i}",
            invoice_date=today(),
            payment_date=today(),
            supplier="Printer",
            description="Posters",
            category="communication",
            currency="EUR",
            amount_cents=cents,
            rate_micros=1_000_000,
            vat_eur_cents=0,
            amount_eur_cents=cents,
            eligible_eur_cents=cents,
            adjusted_eligible_cents=adjusted,
        )
        for i, (cents, adjusted) in enumerate(((12_000, None), (8_000, 5_000)), 1)
    ]
    db.session.add(
        Report(
            grant_id=grant.id,
            kind="interim",
            state="accepted",
            narrative={"activities": "Workshops"},
            created_by_id=grant.created_by_id,
            submitted_at=utcnow(),
            accepted_at=utcnow(),
            expenses=lines,
        )
    )
    db.session.commit()


@pytest.fixture
def member(make: Factory) -> Caller:
    return make.as_role("city_member", city=make.city("Aalborg"))


def test_token_and_user_in_one_statement(app: Any, member: Caller) -> None:
    member.get("/users/me")  # a first request warms the caches
    with statements(app) as seen:
        response = member.get("/users/me")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_at_most("GET /users/me", seen)


@pytest.mark.parametrize("role", ["city_member", "finance_officer", "mentor"])
def test_grant_read(app: Any, make: Factory, role: str) -> None:
    city = make.city("Aalborg")
    grant = make.grant(city, state="disbursed", amounts=(50_000, 30_000, 15_000, 5_000))
    _money_around(make, grant)
    caller = make.in_scope(role, city)
    path = f"/grants/{grant.id}"
    caller.get(path)
    with statements(app) as seen:
        response = caller.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_at_most("GET /grants/{id}", seen)
    body = response.get_json()
    assert [b["amount"] for b in body["budget_lines"]] == ["500.00", "300.00", "150.00", "50.00"]
    assert [r["kind"] for r in body["reports_due"]] == ["interim", "final"]
    assert body["city_name"] == "Aalborg"
    assert body["paid_amount"] == "400.00"


def test_grant_list(app: Any, make: Factory) -> None:
    city = make.city("Aalborg")
    grants = [
        make.grant(city, state="disbursed", amounts=(20_000, 20_000, 20_000)) for _ in range(4)
    ]
    _money_around(make, grants[0])
    caller = make.in_scope("finance_officer", city)
    caller.get("/grants")
    with statements(app) as seen:
        response = caller.get("/grants?page_size=10")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_at_most("GET /grants", seen)
    body = response.get_json()
    assert len(body) == 4
    assert all(len(g["budget_lines"]) == 3 for g in body)
    assert body[0]["paid_amount"] == "400.00"
    assert body[1]["paid_amount"] == "0.00"


def test_grant_create(app: Any, member: Caller) -> None:
    assert member.post("/grants", _body()).status_code == 201
    with statements(app) as seen:
        response = member.post("/grants", _body(title="Second walk"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert_at_most("POST /grants", seen)
    body = response.get_json()
    assert body["city_name"] == "Aalborg"
    assert body["requested_amount"] == "1000.50"
    assert len(body["budget_lines"]) == 3


def test_grant_submit(app: Any, member: Caller) -> None:
    first = member.post("/grants", _body()).get_json()
    assert member.fire(first["id"], "submit").status_code == 200
    grant = member.post("/grants", _body(title="Second walk")).get_json()
    with statements(app) as seen:
        response = member.fire(grant["id"], "submit")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert_at_most("POST /grants/{id}/transitions submit", seen)
    assert response.get_json()["state"] == "submitted"


def test_reads_take_no_write_lock(app: Any, make: Factory, is_postgres: bool) -> None:
    """On SQLite a GET begins a deferred transaction (WAL readers block no writer)."""
    if is_postgres:
        pytest.skip("SQLite only: PostgreSQL takes no lock to read")
    city = make.city("Aalborg")
    grant = make.grant(city, amounts=(10_000, 20_000))
    caller = make.in_scope("city_member", city)
    grant_id = grant.id
    with statements(app) as seen:
        for path in ("/users/me", f"/grants/{grant_id}", "/grants", "/cities", "/grants/1/history"):
            assert caller.get(path).status_code in (200, 404)
        assert caller.call("HEAD", f"/grants/{grant_id}").status_code == 200
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins and set(begins) == {"BEGIN"}, begins
    with statements(app) as seen:
        assert caller.post("/grants", _body()).status_code == 201
    assert seen[0] == "BEGIN IMMEDIATE"


def test_repeated_requests_compile_nothing(
    app: Any, member: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    """The hot statements come from SQLAlchemy's compiled cache, not from a new compilation."""
    grant = member.post("/grants", _body()).get_json()
    # The first write of all inserts the audit chain's head, the next one updates it.
    member.post("/grants", _body(title="Warming up"))
    member.get(f"/grants/{grant['id']}")
    member.get("/grants")
    with app.app_context():
        engine = db.engine
    engine.echo = True  # "[generated in …]" or "[cached since …]" after each statement
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            member.get("/users/me")
            member.get(f"/grants/{grant['id']}")
            member.get("/grants")
            member.post("/grants", _body(title="Another"))
    finally:
        engine.echo = False
    msgs = [r.getMessage() for r in caplog.records]
    compiled = [msgs[i - 1][:300] + " " + m for i, m in enumerate(msgs) if "[generated in" in m]
    assert compiled == [], compiled
    assert any("[cached since" in r.getMessage() for r in caplog.records)


def test_a_get_that_writes_takes_the_write_lock(app: Any, make: Factory, is_postgres: bool) -> None:
    """A download is recorded in the audit trail: that GET locks up front, as a write does."""
    assert app.view_functions["exports.download"].writes
    assert app.view_functions["statements_pages.download"].writes
    if is_postgres:
        return
    grant = make.grant(make.city("Aalborg"), state="approved")
    auditor = make.as_role("auditor")
    export = auditor.post("/exports", {"kind": "grant_statement", "grant_id": grant.id})
    assert export.status_code == 202, export.get_data(as_text=True)
    path = f"/exports/{export.get_json()['id']}/file"
    with statements(app) as seen:
        assert auditor.get(path).status_code == 200
    assert seen[0] == "BEGIN IMMEDIATE", seen[:2]
    assert any(s.startswith("INSERT INTO audit_events") for s in seen)
