"""The grant's life, as a table: every state × event × role, generated from ``workflows.grant``.

Each case builds a grant directly in its state, fires the event over the API as a user of the
role who may see the grant (the city's own member, the city's mentor, or staff), and checks what
that user would see: the new state, or a refusal (403 role, 409 state) that changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from grants.audit import AuditEvent
from grants.cities.models import City, Title
from grants.extensions import db
from grants.grant.models import Grant
from grants.users.models import User
from tests.conftest import _clean as clean_database
from tests.factories import Caller, Factory
from workflows.grant import COMMITTED, GRANT, ROLES
from workflows.table import SYSTEM

# Speed: the table has ~640 cases and runs on SQLite and PostgreSQL. Each case builds its own
# grant, but the city and one user per role are built once for the module (the "cast"), and the
# database is truncated once when the module ends instead of after every case (a TRUNCATE costs
# ~50 ms on PostgreSQL). Cases stay independent: each looks only at its own grant, and at the
# change it made to its title's committed total.


@pytest.fixture(autouse=True)
def _clean_database() -> Iterator[None]:
    """Replaces conftest's truncation after every test, for this module only (see above)."""
    yield


MATRIX_CAP_CENTS = 999_999_999  # 9,999,999.99: room for every approved grant of the module


@dataclass(frozen=True)
class Cast:
    city_id: int
    users: dict[str, tuple[int, str]]  # role → (user id, bearer token)


@pytest.fixture(scope="module")
def cast(app: Flask) -> Cast:
    """One titled city, with a cap that every case together cannot exhaust, and one user of each
    role who may see its grants: one of its members, one of its mentors, and staff."""
    with app.app_context():
        make = Factory(app)
        city = make.city(cap=MATRIX_CAP_CENTS)
        callers = {role: make.in_scope(role, city) for role in ROLES}
        made = Cast(city.id, {role: (c.user.id, c.token) for role, c in callers.items()})
        db.session.remove()
    return made


@pytest.fixture(scope="module", autouse=True)
def _clean_database_once(app: Flask) -> Iterator[None]:
    yield
    clean_database(app)


@pytest.fixture
def city(make: Factory, cast: Cast) -> City:
    return db.session.get(City, cast.city_id)


@pytest.fixture
def as_role(make: Factory, cast: Cast) -> Callable[[str], Caller]:
    def caller(role: str) -> Caller:
        user_id, token = cast.users[role]
        return Caller(make.app.test_client(), db.session.get(User, user_id), token)

    return caller


@pytest.fixture
def grant_in(make: Factory, city: City, as_role: Callable[[str], Caller]) -> Callable[[str], int]:
    """A grant of the cast's city put straight into a state (proposed by the cast's member)."""

    def build(state: str) -> int:
        return make.grant(city, state=state, author=as_role("city_member").user).id

    return build


AMOUNT = "1000.00"  # the factory's default grant: one budget line of 1,000.00
COMMENT = "Reasoned decision, see the minutes."


def expected(state: str, event: str, role: str) -> tuple[int, str]:
    """What the table says a ``role`` gets for ``event`` in ``state``: status and state after."""
    row = GRANT.transition(event)
    if role not in row.roles:
        return 403, state
    if state not in row.sources:
        return 409, state
    return 200, row.dest


def body_for(event: str) -> dict[str, Any]:
    """The request body: a comment where the table requires one, never an approved_amount."""
    body: dict[str, Any] = {"event": event}
    if GRANT.transition(event).comment_required:
        body["comment"] = COMMENT
    return body


CASES = [
    pytest.param(state, event, role, id=f"{state}-{event}-{role}")
    for state in GRANT.states
    for event in GRANT.events
    for role in ROLES
]


def audit_count(grant_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.grant_id == grant_id)
    )


def stored(grant_id: int) -> dict[str, Any]:
    """Everything a refused request must leave as it was, read from the database: the grant's
    row (its version counts every write), its audit trail and its title's committed total."""
    row = db.session.execute(
        select(Grant.state, Grant.version, Grant.updated_at, Grant.approved_cents, Title)
        .join(Title, Grant.title_id == Title.id)
        .where(Grant.id == grant_id)
        .execution_options(populate_existing=True)
    ).one()
    return {
        "state": row.state,
        "version": row.version,
        "updated_at": row.updated_at,
        "approved_cents": row.approved_cents,
        "committed_cents": row.Title.committed_cents,
        "audit_events": audit_count(grant_id),
    }


def test_the_table_is_complete_and_system_events_belong_to_no_human():
    """The generated table is the whole product, and 'system' is nobody's role."""
    assert len(CASES) == len(GRANT.states) * len(GRANT.events) * len(ROLES) == 550
    assert SYSTEM not in ROLES
    system_events = [t.event for t in GRANT.transitions if SYSTEM in t.roles]
    assert system_events == ["advance_paid", "interim_accepted", "final_accepted"]
    outcomes = [expected(*case.values)[0] for case in CASES]
    # 12 (source state, event) pairs that a human role may fire, one role each; the 7 human
    # events refuse the other states (7 × 11 − 12); everything else is a role refusal.
    assert (outcomes.count(200), outcomes.count(409), outcomes.count(403)) == (12, 65, 473)
    for event in system_events:
        assert {expected(s, event, r)[0] for s in GRANT.states for r in ROLES} == {403}


def committed(caller: Caller, city_id: int) -> Decimal:
    """The title's committed total as the caller reads it on the city."""
    return Decimal(caller.get(f"/cities/{city_id}").get_json()["titles"][0]["committed"])


@pytest.mark.parametrize(("state", "event", "role"), CASES)
def test_event_by_role_in_state(city, as_role, grant_in, state, event, role):
    status, state_after = expected(state, event, role)
    caller = as_role(role)
    grant_id = grant_in(state)
    before = stored(grant_id)
    assert before["state"] == state

    if status == 200:
        # The extra conditions of the allowed events hold with the factory's defaults: a budget
        # line, headroom under the cap (submit, approve), nothing paid so nothing owed (close).
        seen = caller.get(f"/grants/{grant_id}").get_json()
        title = caller.get(f"/cities/{city.id}").get_json()["titles"][0]
        assert seen["requested_amount"] == AMOUNT
        assert [line["amount"] for line in seen["budget_lines"]] == [AMOUNT]
        assert Decimal(title["available"]) >= Decimal(AMOUNT)
        assert (seen["paid_amount"], seen["recovered_amount"]) == ("0.00", "0.00")
        assert event in seen["available_events"]
        committed_before = Decimal(title["committed"])

    r = caller.post(f"/grants/{grant_id}/transitions", body_for(event))

    assert r.status_code == status, r.get_json()
    answer = r.get_json()
    if status != 200:
        assert answer["code"] == status
        if status == 409:
            assert answer["reason"] == "invalid_transition"
        else:
            assert "reason" not in answer
        assert stored(grant_id) == before
        return

    read_back = caller.get(f"/grants/{grant_id}").get_json()
    decided = state_after in (*COMMITTED, "closed", "terminated")
    for seen in (answer, read_back):
        assert seen["state"] == state_after
        assert seen["requested_amount"] == AMOUNT
        assert seen["approved_amount"] == (AMOUNT if decided else None)
    assert audit_count(grant_id) == before["audit_events"] + 1
    last = caller.get(f"/grants/{grant_id}/history").get_json()[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (event, state, state_after)
    assert last["actor"]["id"] == caller.user.id
    assert last["comment"] == body_for(event).get("comment")
    # A live approved grant holds its amount against the cap; any other holds nothing (nothing
    # was paid, so a closed or terminated grant gives all of it back).
    holds = {s: Decimal(AMOUNT) if s in COMMITTED else Decimal(0) for s in (state, state_after)}
    assert committed(caller, city.id) - committed_before == holds[state_after] - holds[state]


@pytest.mark.parametrize("state", GRANT.states)
@pytest.mark.parametrize("role", ROLES)
def test_available_events_are_exactly_what_the_table_allows(as_role, grant_in, state, role):
    caller = as_role(role)
    grant_id = grant_in(state)

    r = caller.get(f"/grants/{grant_id}")

    assert r.status_code == 200
    allowed = [e for e in GRANT.events if expected(state, e, role)[0] == 200]
    assert r.get_json()["available_events"] == allowed


@pytest.mark.parametrize(
    ("role", "state", "events"),
    [
        ("city_member", "draft", ["submit", "withdraw"]),
        ("city_member", "submitted", ["withdraw"]),
        ("city_member", "changes_requested", ["submit", "withdraw"]),
        ("finance_officer", "submitted", ["request_changes", "approve", "reject"]),
        ("finance_officer", "approved", ["terminate"]),
        ("finance_officer", "final_reported", ["close"]),
        ("city_member", "approved", []),
        ("mentor", "submitted", []),
        ("auditor", "submitted", []),
        ("admin", "submitted", []),
        ("finance_officer", "closed", []),
    ],
)
def test_available_events_spelled_out(as_role, grant_in, role, state, events):
    """The same rule written by hand, so that a wrong table cannot pass by agreeing with itself."""
    grant_id = grant_in(state)

    assert as_role(role).get(f"/grants/{grant_id}").get_json()["available_events"] == events


COMMENTED = [
    pytest.param(t.event, t.roles[0], state, id=f"{t.event}-{state}")
    for t in GRANT.transitions
    if t.comment_required
    for state in t.sources
]
MISSING = {
    "absent": {},
    "null": {"comment": None},
    "empty": {"comment": ""},
    "blank": {"comment": "   \n "},
}


@pytest.mark.parametrize("missing", MISSING.keys())
@pytest.mark.parametrize(("event", "role", "state"), COMMENTED)
def test_a_required_comment_is_required(as_role, grant_in, event, role, state, missing):
    caller = as_role(role)
    grant_id = grant_in(state)
    before = stored(grant_id)

    r = caller.fire(grant_id, event, **MISSING[missing])

    assert r.status_code == 422, r.get_json()
    assert list(r.get_json()["errors"]["json"]) == ["comment"]
    assert r.get_json()["errors"]["json"]["comment"]
    assert caller.get(f"/grants/{grant_id}").get_json()["state"] == state
    assert stored(grant_id) == before


def test_the_comment_is_checked_after_the_role_and_before_the_state(as_role, grant_in):
    """api.md: 403 before 422 before 409."""
    member, officer = as_role("city_member"), as_role("finance_officer")
    draft = grant_in("draft")
    before = stored(draft)

    assert member.fire(draft, "reject").status_code == 403
    r = officer.fire(draft, "reject")
    assert r.status_code == 422
    assert list(r.get_json()["errors"]["json"]) == ["comment"]
    r = officer.fire(draft, "reject", comment=COMMENT)
    assert r.status_code == 409
    assert r.get_json()["reason"] == "invalid_transition"
    assert officer.get(f"/grants/{draft}").get_json()["state"] == "draft"
    assert stored(draft) == before


def test_the_cast_sees_the_grants_and_outsiders_do_not(make, as_role, grant_in):
    """Outside its scope a user gets 404 for a grant, so the table must use in-scope users."""
    other = make.city()
    grant_id = grant_in("submitted")
    before = stored(grant_id)
    for role in ROLES:
        assert as_role(role).get(f"/grants/{grant_id}").status_code == 200
    for role in ("city_member", "mentor"):
        outsider = make.in_scope(role, other)
        assert outsider.get(f"/grants/{grant_id}").status_code == 404
        assert outsider.fire(grant_id, "withdraw").status_code == 404
    assert stored(grant_id) == before
