"""Comments, the audit trail of a grant, and safe retries with ``Idempotency-Key``.

domain.md, "Comments": shared comments are seen by the city, internal ones only by staff,
mentors and auditors. "A pilot grant's life": every change of state is written to the audit
trail with actor, time, from → to and the comment. api.md, "Retries": the same key and body
replay the first response; another body is 409 ``idempotency_mismatch``; keys are per user.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from grants.db import utcnow
from tests.factories import Caller, Factory


@pytest.fixture
def city(make: Factory) -> Any:
    return make.city()


@pytest.fixture
def member(make: Factory, city: Any) -> Caller:
    return make.as_role("city_member", city=city)


@pytest.fixture
def finance(make: Factory) -> Caller:
    return make.as_role("finance_officer")


@pytest.fixture
def staff(make: Factory, city: Any, finance: Caller) -> dict[str, Caller]:
    """Everyone who may write internal comments on the city's grants."""
    return {
        "mentor": make.as_role("mentor", mentor_of=(city,)),
        "finance_officer": finance,
        "admin": make.as_role("admin"),
    }


def history(caller: Caller, grant_id: int) -> list[dict[str, Any]]:
    response = caller.get(f"/grants/{grant_id}/history")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def comments(caller: Caller, grant_id: int) -> list[dict[str, Any]]:
    response = caller.get(f"/grants/{grant_id}/comments")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def comment(caller: Caller, grant_id: int, body: str, visibility: str) -> Any:
    return caller.post(f"/grants/{grant_id}/comments", {"body": body, "visibility": visibility})


# ---------------------------------------------------------------------------------------------
# Comments


@pytest.mark.parametrize("role", ["mentor", "finance_officer", "admin"])
@pytest.mark.parametrize("visibility", ["shared", "internal"])
def test_mentors_finance_and_admins_post_both_kinds(make, city, staff, role, visibility):
    grant = make.grant(city, state="submitted")
    caller = staff[role]

    response = comment(caller, grant.id, "  Budget looks sound.  ", visibility)

    assert response.status_code == 201, response.get_json()
    posted = response.get_json()
    assert posted["grant_id"] == grant.id
    assert posted["body"] == "Budget looks sound."
    assert posted["visibility"] == visibility
    assert posted["author"] == {"id": caller.user.id, "email": caller.user.email, "role": role}
    created_at = dt.datetime.fromisoformat(posted["created_at"])
    assert created_at.tzinfo is not None
    assert [c["id"] for c in comments(caller, grant.id)] == [posted["id"]]


def test_a_city_member_posts_shared_comments(make, city, member, finance):
    grant = make.grant(city, state="submitted")

    response = comment(member, grant.id, "We found a cheaper venue.", "shared")

    assert response.status_code == 201, response.get_json()
    assert [c["body"] for c in comments(member, grant.id)] == ["We found a cheaper venue."]
    assert [c["body"] for c in comments(finance, grant.id)] == ["We found a cheaper venue."]


def test_a_shared_comment_is_the_default(make, city, finance, member):
    grant = make.grant(city, state="submitted")

    response = finance.post(f"/grants/{grant.id}/comments", {"body": "Thanks."})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["visibility"] == "shared"
    assert [c["body"] for c in comments(member, grant.id)] == ["Thanks."]


def test_a_city_member_may_not_post_an_internal_comment(make, city, member, finance):
    grant = make.grant(city, state="submitted")

    response = comment(member, grant.id, "Between us staff…", "internal")

    assert response.status_code == 403, response.get_json()
    assert response.get_json()["code"] == 403
    assert comments(finance, grant.id) == []
    assert history(finance, grant.id) == []


@pytest.mark.parametrize("visibility", ["shared", "internal"])
def test_an_auditor_may_not_comment(make, city, finance, visibility):
    grant = make.grant(city, state="submitted")
    auditor = make.as_role("auditor")

    response = comment(auditor, grant.id, "Audit note", visibility)

    assert response.status_code == 403, response.get_json()
    assert comments(finance, grant.id) == []
    assert history(finance, grant.id) == []


@pytest.mark.parametrize(
    "body",
    [{"body": ""}, {"body": "   "}, {"visibility": "shared"}, {"body": "x", "visibility": "all"}],
)
def test_a_comment_without_text_or_with_an_unknown_visibility_is_422(make, city, finance, body):
    grant = make.grant(city, state="submitted")

    response = finance.post(f"/grants/{grant.id}/comments", body)

    assert response.status_code == 422, response.get_json()
    assert comments(finance, grant.id) == []


def test_internal_comments_are_never_shown_to_city_members(make, city, member, staff):
    grant = make.grant(city, state="submitted")
    auditor = make.as_role("auditor")
    for role, caller in staff.items():
        assert comment(caller, grant.id, f"Shared by {role}", "shared").status_code == 201
        assert (
            comment(caller, grant.id, f"SECRET internal by {role}", "internal").status_code == 201
        )
    assert comment(member, grant.id, "Shared by the city", "shared").status_code == 201

    shared = ["Shared by mentor", "Shared by finance_officer", "Shared by admin"]
    internal = ["SECRET internal by mentor", "SECRET internal by finance_officer"]
    internal.append("SECRET internal by admin")
    everything = [x for pair in zip(shared, internal, strict=True) for x in pair]
    everything.append("Shared by the city")

    # The city sees the shared comments only, in the comments and in the history.
    assert [c["body"] for c in comments(member, grant.id)] == [*shared, "Shared by the city"]
    member_history = member.get(f"/grants/{grant.id}/history")
    assert "SECRET" not in member_history.get_data(as_text=True)
    assert [e["comment"] for e in member_history.get_json()] == [*shared, "Shared by the city"]
    assert "SECRET" not in member.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "SECRET" not in member.get("/grants").get_data(as_text=True)

    # Staff, mentors and auditors see everything, in order.
    for caller in [*staff.values(), auditor]:
        assert [c["body"] for c in comments(caller, grant.id)] == everything
        assert [e["comment"] for e in history(caller, grant.id)] == everything


# ---------------------------------------------------------------------------------------------
# The audit trail of a grant's transitions

#: (state before, event, role, comment) for every transition a person may fire.
TRANSITIONS = [
    ("draft", "submit", "city_member", None),
    ("changes_requested", "submit", "city_member", "Venue added."),
    ("submitted", "request_changes", "finance_officer", "Please add the venue costs."),
    ("submitted", "approve", "finance_officer", None),
    ("submitted", "reject", "finance_officer", "Outside the action plan's aims."),
    ("draft", "withdraw", "city_member", None),
    ("submitted", "withdraw", "city_member", "We found another sponsor."),
    ("changes_requested", "withdraw", "city_member", None),
    ("final_reported", "close", "finance_officer", None),
    ("approved", "terminate", "finance_officer", "The pilot was cancelled."),
    ("disbursed", "terminate", "finance_officer", "The pilot was cancelled."),
    ("interim_reported", "terminate", "finance_officer", "The pilot was cancelled."),
]


def assert_recent(at: str) -> dt.datetime:
    """``at`` is ISO 8601 with a timezone, and a moment ago."""
    moment = dt.datetime.fromisoformat(at)
    assert moment.tzinfo is not None
    assert moment.utcoffset() == dt.timedelta(0)
    assert utcnow() - dt.timedelta(minutes=1) <= moment <= utcnow()
    return moment


@pytest.mark.parametrize(
    ("state", "event", "role", "text"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in TRANSITIONS],
)
def test_every_transition_writes_exactly_one_audit_event(
    make, city, member, finance, state, event, role, text
):
    grant = make.grant(city, state=state)
    caller = member if role == "city_member" else finance
    body = {"comment": text} if text else {}

    response = caller.fire(grant.id, event, **body)

    assert response.status_code == 200, response.get_json()
    to_state = response.get_json()["state"]
    assert to_state != state
    events = history(finance, grant.id)
    assert len(events) == 1
    (entry,) = events
    assert entry["actor"] == {"id": caller.user.id, "email": caller.user.email, "role": role}
    assert entry["action"] == event
    assert entry["from_state"] == state
    assert entry["to_state"] == to_state
    assert entry["comment"] == text
    assert_recent(entry["at"])
    # The city reads the same trail of its own grant.
    assert history(member, grant.id) == events


def test_the_history_is_oldest_first_and_tells_the_whole_story(city, member, finance):
    title = city.titles[0]
    response = member.post(
        "/grants",
        {
            "title": "Harbour stories",
            "start_date": title.valid_from.isoformat(),
            "end_date": title.valid_until.isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": "1200.00"}],
        },
    )
    assert response.status_code == 201, response.get_json()
    grant_id = response.get_json()["id"]
    steps = [
        (member, "submit", {}),
        (finance, "request_changes", {"comment": "Split the fees."}),
        (member, "submit", {"comment": "Split."}),
        (finance, "approve", {"approved_amount": "1000.00"}),
        (finance, "terminate", {"comment": "Cancelled."}),
    ]
    for caller, event, body in steps:
        response = caller.fire(grant_id, event, **body)
        assert response.status_code == 200, response.get_json()

    events = history(finance, grant_id)

    assert [(e["action"], e["from_state"], e["to_state"], e["comment"]) for e in events] == [
        ("create", None, "draft", None),
        ("submit", "draft", "submitted", None),
        ("request_changes", "submitted", "changes_requested", "Split the fees."),
        ("submit", "changes_requested", "submitted", "Split."),
        ("approve", "submitted", "approved", None),
        ("terminate", "approved", "terminated", "Cancelled."),
    ]
    assert [e["actor"]["role"] for e in events] == [
        "city_member",
        "city_member",
        "finance_officer",
        "city_member",
        "finance_officer",
        "finance_officer",
    ]
    moments = [assert_recent(e["at"]) for e in events]
    assert moments == sorted(moments)
    assert events[4]["data"]["approved_amount"] == "1000.00"
    assert events[0]["data"]["requested_amount"] == "1200.00"


@pytest.mark.parametrize(
    ("state", "event", "role", "body", "code"),
    [
        pytest.param("draft", "approve", "finance_officer", {}, 409, id="wrong-state"),
        pytest.param("submitted", "approve", "city_member", {}, 403, id="wrong-role"),
        pytest.param("submitted", "reject", "finance_officer", {}, 422, id="no-comment"),
        pytest.param(
            "submitted",
            "request_changes",
            "finance_officer",
            {"comment": "   "},
            422,
            id="blank-comment",
        ),
        pytest.param(
            "submitted",
            "approve",
            "finance_officer",
            {"approved_amount": "1000.01"},
            409,
            id="over-requested",
        ),
        pytest.param("withdrawn", "submit", "city_member", {}, 409, id="final-state"),
        pytest.param("approved", "close", "finance_officer", {}, 409, id="close-too-early"),
        pytest.param("submitted", "advance_paid", "finance_officer", {}, 403, id="system-event"),
    ],
)
def test_a_refused_transition_writes_no_event(
    make, city, member, finance, state, event, role, body, code
):
    grant = make.grant(city, state=state, amounts=(100_000,))
    caller = member if role == "city_member" else finance
    before = finance.get(f"/grants/{grant.id}").get_json()

    response = caller.fire(grant.id, event, **body)

    assert response.status_code == code, response.get_json()
    assert history(finance, grant.id) == []
    assert finance.get(f"/grants/{grant.id}").get_json() == before


def test_an_approval_over_the_cap_writes_no_event(make, finance):
    city = make.city(cap=100_000)
    grant = make.grant(city, state="submitted", amounts=(100_001,))

    response = finance.fire(grant.id, "approve")

    assert response.status_code == 409
    assert response.get_json()["reason"] == "cap_exceeded"
    assert history(finance, grant.id) == []
    title = finance.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert title["committed"] == "0.00"


# ---------------------------------------------------------------------------------------------
# Idempotency-Key


def fire_with_key(caller: Caller, grant_id: int, key: str, **body: Any) -> Any:
    return caller.post(f"/grants/{grant_id}/transitions", body, headers={"Idempotency-Key": key})


def test_a_retried_transition_happens_once_and_answers_the_same(make, city, finance):
    grant = make.grant(city, state="submitted", amounts=(150_000,))

    first = fire_with_key(
        finance, grant.id, "approve-1", event="approve", approved_amount="1000.00"
    )
    second = fire_with_key(
        finance, grant.id, "approve-1", event="approve", approved_amount="1000.00"
    )

    assert first.status_code == 200, first.get_json()
    assert second.status_code == first.status_code
    assert second.get_json() == first.get_json()
    assert [e["action"] for e in history(finance, grant.id)] == ["approve"]
    title = finance.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert title["committed"] == "1000.00"


def test_the_same_body_in_another_key_order_is_the_same_request(make, city, member):
    grant = make.grant(city)

    first = member.post(
        f"/grants/{grant.id}/transitions",
        data='{"event": "withdraw", "comment": "No longer needed."}',
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )
    second = member.post(
        f"/grants/{grant.id}/transitions",
        data='{"comment": "No longer needed.", "event": "withdraw"}',
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )

    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert [e["action"] for e in history(member, grant.id)] == ["withdraw"]


def test_a_retried_refusal_is_replayed_not_run_again(make, city, member, finance):
    grant = make.grant(city)

    first = fire_with_key(finance, grant.id, "approve-early", event="approve")
    assert first.status_code == 409
    assert first.get_json()["reason"] == "invalid_transition"
    # Meanwhile the city submits; the officer's client retries its first request.
    assert member.fire(grant.id, "submit").status_code == 200
    second = fire_with_key(finance, grant.id, "approve-early", event="approve")

    assert second.status_code == first.status_code
    assert second.get_json() == first.get_json()
    assert finance.get(f"/grants/{grant.id}").get_json()["state"] == "submitted"
    assert [e["action"] for e in history(finance, grant.id)] == ["submit"]


def test_a_key_reused_with_another_body_is_409_mismatch(make, city, finance):
    grant = make.grant(city, state="submitted")
    assert fire_with_key(finance, grant.id, "decision", event="approve").status_code == 200

    response = fire_with_key(finance, grant.id, "decision", event="reject", comment="No.")

    assert response.status_code == 409, response.get_json()
    assert response.get_json()["reason"] == "idempotency_mismatch"
    assert finance.get(f"/grants/{grant.id}").get_json()["state"] == "approved"
    assert [e["action"] for e in history(finance, grant.id)] == ["approve"]


def test_different_users_use_the_same_key_independently(make, city, member):
    grant = make.grant(city, state="submitted")
    first, second = make.as_role("finance_officer"), make.as_role("finance_officer")
    body = {"event": "request_changes", "comment": "Add the venue."}

    assert fire_with_key(first, grant.id, "shared-key", **body).status_code == 200
    assert member.fire(grant.id, "submit").status_code == 200
    response = fire_with_key(second, grant.id, "shared-key", **body)

    assert response.status_code == 200, response.get_json()
    assert "Idempotent-Replayed" not in response.headers
    events = history(first, grant.id)
    assert [(e["action"], e["actor"]["id"]) for e in events] == [
        ("request_changes", first.user.id),
        ("submit", member.user.id),
        ("request_changes", second.user.id),
    ]


def test_one_key_on_two_grants_fires_on_both(make, city, finance):
    one, two = make.grant(city, state="submitted"), make.grant(city, state="submitted")

    for grant in (one, two):
        response = fire_with_key(finance, grant.id, "same", event="approve")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["id"] == grant.id

    assert [e["action"] for e in history(finance, one.id)] == ["approve"]
    assert [e["action"] for e in history(finance, two.id)] == ["approve"]


def test_without_a_key_a_repeat_is_a_new_request(make, city, finance):
    grant = make.grant(city, state="submitted")

    assert finance.fire(grant.id, "approve").status_code == 200
    response = finance.fire(grant.id, "approve")

    assert response.status_code == 409
    assert response.get_json()["reason"] == "invalid_transition"
    assert [e["action"] for e in history(finance, grant.id)] == ["approve"]
