"""Who sees what and who may do what (domain.md, "People"; api.md, "Auth" and "Endpoints").

Outside a grant's scope the answer is 404, as for a grant that does not exist; inside it, an
action the role may not take is 403. Only admins manage cities, titles and users. Tokens are
required, expire and can be revoked.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from grants.db import utcnow
from grants.extensions import db
from grants.users.credentials import issue_token
from tests.factories import PASSWORD, Caller, Factory
from workflows.grant import GRANT

OTHER_ROLES = ["city_member", "finance_officer", "mentor", "auditor"]

#: Every event of a grant's life, with a state it may be fired from.
EVENTS = [pytest.param(t.event, t.sources[0], id=t.event) for t in GRANT.transitions]


def assert_404(response: Any) -> None:
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_json() == {"code": 404, "status": "Not Found", "message": "No such grant."}


def assert_status(response: Any, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code
    return body


def grant_endpoints(grant_id: int) -> list[tuple[str, str, Any]]:
    """Every endpoint of one grant, with a body that would be valid for some role."""
    return [
        ("GET", f"/grants/{grant_id}", None),
        ("PATCH", f"/grants/{grant_id}", {"title": "Taken over"}),
        ("POST", f"/grants/{grant_id}/transitions", {"event": "withdraw"}),
        ("POST", f"/grants/{grant_id}/transitions", {"event": "approve"}),
        ("GET", f"/grants/{grant_id}/history", None),
        ("GET", f"/grants/{grant_id}/comments", None),
        ("POST", f"/grants/{grant_id}/comments", {"body": "Hello", "visibility": "shared"}),
    ]


class World:
    """Two cities, A and B, a grant in each, and one user of every kind."""

    def __init__(self, make: Factory) -> None:
        self.a = make.city("Aalborg")
        self.b = make.city("Brzeg", country="PL")
        self.grant_a = make.grant(self.a, state="submitted")
        self.draft_a = make.grant(self.a)
        self.grant_b = make.grant(self.b, state="submitted")
        self.draft_b = make.grant(self.b)
        self.member_a = make.as_role("city_member", city=self.a)
        self.member_b = make.as_role("city_member", city=self.b)
        self.mentor_a = make.as_role("mentor", mentor_of=(self.a,))
        self.finance = make.as_role("finance_officer")
        self.auditor = make.as_role("auditor")
        self.admin = make.as_role("admin")

    @property
    def ids_a(self) -> list[int]:
        return [self.grant_a.id, self.draft_a.id]

    @property
    def ids_b(self) -> list[int]:
        return [self.grant_b.id, self.draft_b.id]


@pytest.fixture
def world(make: Factory) -> World:
    return World(make)


def listed(caller: Caller, query: str = "") -> list[int]:
    response = caller.get(f"/grants{query}")
    assert response.status_code == 200, response.get_json()
    ids = [g["id"] for g in response.get_json()]
    assert json.loads(response.headers["X-Pagination"])["total"] == len(ids)
    return ids


def unchanged(world: World, grant: Any, state: str) -> None:
    """The grant, seen by finance, is as the factory made it: no edit, event or comment."""
    seen = world.finance.get(f"/grants/{grant.id}").get_json()
    assert seen["state"] == state
    assert seen["title"] == grant.title
    assert world.finance.get(f"/grants/{grant.id}/history").get_json() == []
    assert world.finance.get(f"/grants/{grant.id}/comments").get_json() == []


# ---------------------------------------------------------------------------------------------
# City members


@pytest.mark.parametrize("index", range(7))
def test_a_city_member_gets_404_for_another_citys_grant(world, index):
    method, path, body = grant_endpoints(world.grant_b.id)[index]

    assert_404(world.member_a.call(method, path, body))

    unchanged(world, world.grant_b, "submitted")


@pytest.mark.parametrize("index", range(7))
def test_out_of_scope_looks_exactly_like_a_grant_that_does_not_exist(world, index):
    method, path, body = grant_endpoints(99_999)[index]

    assert_404(world.member_a.call(method, path, body))


def test_404_comes_before_the_body_is_checked(world):
    path = f"/grants/{world.grant_b.id}"

    assert_404(world.member_a.patch(path, {"budget_lines": [{"amount": "1.999"}]}))
    assert_404(world.member_a.post(f"{path}/transitions", {"event": "no_such_event"}))
    assert_404(world.member_a.post(f"{path}/comments", {}))


def test_a_city_member_lists_only_its_own_citys_grants(world):
    assert listed(world.member_a) == world.ids_a
    assert listed(world.member_b) == world.ids_b
    assert listed(world.member_a, f"?city_id={world.b.id}") == []
    assert listed(world.member_a, "?state=submitted") == [world.grant_a.id]
    assert listed(world.member_a, f"?state=submitted&city_id={world.b.id}") == []


def test_a_city_member_reads_and_acts_on_its_own_citys_grant(world):
    path = f"/grants/{world.draft_a.id}"
    assert world.member_a.get(path).status_code == 200
    assert world.member_a.get(f"{path}/history").status_code == 200
    assert world.member_a.get(f"{path}/comments").status_code == 200

    response = world.member_a.patch(path, {"title": "Renamed"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "Renamed"


# ---------------------------------------------------------------------------------------------
# Mentors


def test_a_mentor_sees_only_the_assigned_cities(world):
    assert listed(world.mentor_a) == world.ids_a
    assert listed(world.mentor_a, f"?city_id={world.b.id}") == []
    for grant_id in world.ids_a:
        assert world.mentor_a.get(f"/grants/{grant_id}").status_code == 200
        assert world.mentor_a.get(f"/grants/{grant_id}/history").status_code == 200
        assert world.mentor_a.get(f"/grants/{grant_id}/comments").status_code == 200


@pytest.mark.parametrize("index", range(7))
def test_a_mentor_gets_404_outside_the_assigned_cities(world, index):
    method, path, body = grant_endpoints(world.grant_b.id)[index]

    assert_404(world.mentor_a.call(method, path, body))

    unchanged(world, world.grant_b, "submitted")


def test_a_mentor_without_cities_sees_no_grant(make, world):
    mentor = make.as_role("mentor")

    assert listed(mentor) == []
    assert_404(mentor.get(f"/grants/{world.grant_a.id}"))


def test_a_mentor_reads_a_draft_but_may_not_act_on_it(world):
    path = f"/grants/{world.draft_a.id}"

    assert world.mentor_a.get(path).get_json()["available_events"] == []
    assert_status(world.mentor_a.patch(path, {"title": "Mentored"}), 403)
    assert_status(world.mentor_a.fire(world.draft_a.id, "submit"), 403)
    assert_status(world.mentor_a.fire(world.grant_a.id, "approve"), 403)
    unchanged(world, world.draft_a, "draft")
    unchanged(world, world.grant_a, "submitted")


# ---------------------------------------------------------------------------------------------
# Auditors, admins, finance officers: they read every grant


@pytest.mark.parametrize("role", ["auditor", "admin", "finance_officer"])
def test_staff_read_every_grant_drafts_included(world, role):
    caller = {"auditor": world.auditor, "admin": world.admin, "finance_officer": world.finance}[
        role
    ]

    assert listed(caller) == world.ids_a + world.ids_b
    assert listed(caller, f"?city_id={world.b.id}") == world.ids_b
    for grant_id in world.ids_a + world.ids_b:
        assert caller.get(f"/grants/{grant_id}").status_code == 200
        assert caller.get(f"/grants/{grant_id}/history").status_code == 200
        assert caller.get(f"/grants/{grant_id}/comments").status_code == 200


@pytest.mark.parametrize("role", ["auditor", "admin"])
@pytest.mark.parametrize(("event", "state"), EVENTS)
def test_auditors_and_admins_fire_no_grant_event(make, role, event, state):
    city = make.city()
    grant = make.grant(city, state=state)
    caller = make.as_role(role)
    finance = make.as_role("finance_officer")
    before = finance.get(f"/grants/{grant.id}").get_json()

    body = assert_status(caller.fire(grant.id, event, comment="Because I can"), 403)

    assert body["status"] == "Forbidden"
    after = finance.get(f"/grants/{grant.id}").get_json()
    assert after == before
    assert finance.get(f"/grants/{grant.id}/history").get_json() == []
    assert caller.get(f"/grants/{grant.id}").get_json()["available_events"] == []


@pytest.mark.parametrize("role", ["auditor", "admin", "finance_officer"])
def test_only_city_members_edit_proposals(world, role):
    caller = {"auditor": world.auditor, "admin": world.admin, "finance_officer": world.finance}[
        role
    ]

    assert_status(caller.patch(f"/grants/{world.draft_a.id}", {"title": "Edited"}), 403)

    unchanged(world, world.draft_a, "draft")


@pytest.mark.parametrize("visibility", ["shared", "internal"])
def test_an_auditor_cannot_comment(world, visibility):
    response = world.auditor.post(
        f"/grants/{world.grant_a.id}/comments", {"body": "Noted", "visibility": visibility}
    )

    assert_status(response, 403)
    unchanged(world, world.grant_a, "submitted")


@pytest.mark.parametrize("role", ["auditor", "admin", "finance_officer", "mentor"])
def test_only_city_members_propose(make, role):
    city = make.city()
    caller = make.as_role(role, mentor_of=(city,)) if role == "mentor" else make.as_role(role)
    title = city.titles[0]

    response = caller.post(
        "/grants",
        {
            "title": "Not mine to propose",
            "start_date": title.valid_from.isoformat(),
            "end_date": title.valid_until.isoformat(),
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": "100.00"}],
        },
    )

    assert_status(response, 403)
    assert listed(make.as_role("auditor")) == []


# ---------------------------------------------------------------------------------------------
# Only admins manage cities, titles and users


def _city_body() -> dict[str, Any]:
    return {"name": "Cēsis", "country": "LV", "population": 15000}


def _title_body() -> dict[str, Any]:
    return {"year": 2031, "valid_from": "2031-01-01", "valid_until": "2031-12-31"}


def _user_body() -> dict[str, Any]:
    return {"email": "new.admin@test.example", "password": "long enough secret", "role": "admin"}


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_only_admins_create_cities_titles_and_users(make, role):
    city = make.city()
    caller = make.as_role(role, city=city if role == "city_member" else None)
    admin = make.as_role("admin")
    users_before = admin.get("/users").get_json()

    assert_status(caller.post("/cities", _city_body()), 403)
    assert_status(caller.post(f"/cities/{city.id}/titles", _title_body()), 403)
    assert_status(caller.post("/users", _user_body()), 403)
    assert_status(caller.get("/users"), 403)
    assert_status(caller.get(f"/users/{admin.user.id}"), 403)

    assert [c["id"] for c in admin.get("/cities").get_json()] == [city.id]
    assert len(admin.get(f"/cities/{city.id}").get_json()["titles"]) == 1
    assert admin.get("/users").get_json() == users_before


def test_an_admin_creates_a_city_a_title_and_a_user(make):
    admin = make.as_role("admin")

    response = admin.post("/cities", _city_body())
    assert response.status_code == 201, response.get_json()
    city = response.get_json()
    assert (city["name"], city["country"], city["population"], city["is_capital"]) == (
        "Cēsis",
        "LV",
        15000,
        False,
    )
    assert city["titles"] == []

    response = admin.post(f"/cities/{city['id']}/titles", _title_body())
    assert response.status_code == 201, response.get_json()
    title = response.get_json()
    assert (title["year"], title["valid_from"], title["valid_until"]) == (
        2031,
        "2031-01-01",
        "2031-12-31",
    )
    assert (title["cap"], title["committed"], title["available"]) == ("5000.00", "0.00", "5000.00")

    response = admin.post(
        "/users",
        {
            "email": "Cesis.Team@Test.Example",
            "password": "long enough secret",
            "role": "city_member",
            "city_id": city["id"],
        },
    )
    assert response.status_code == 201, response.get_json()
    user = response.get_json()
    assert (user["email"], user["role"], user["city_id"]) == (
        "cesis.team@test.example",
        "city_member",
        city["id"],
    )


# ---------------------------------------------------------------------------------------------
# Users


@pytest.mark.parametrize("role", ["city_member", "finance_officer", "mentor", "auditor", "admin"])
def test_users_me_is_the_signed_in_user(make, role):
    city = make.city()
    if role == "city_member":
        caller = make.as_role(role, city=city)
    elif role == "mentor":
        caller = make.as_role(role, mentor_of=(city,))
    else:
        caller = make.as_role(role)

    response = caller.get("/users/me")

    assert response.status_code == 200
    me = response.get_json()
    assert me["id"] == caller.user.id
    assert me["email"] == caller.user.email
    assert me["role"] == role
    assert me["city_id"] == (city.id if role == "city_member" else None)
    assert me["mentor_city_ids"] == ([city.id] if role == "mentor" else [])
    assert me["is_active"] is True
    assert not {"password", "password_hash"} & set(me)
    assert "scrypt" not in response.get_data(as_text=True)


def test_no_password_or_hash_ever_leaves_the_users_api(make):
    admin = make.as_role("admin")
    secret = "a very secret passphrase"

    created = admin.post(
        "/users", {"email": "finance@test.example", "password": secret, "role": "finance_officer"}
    )
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    responses = [
        created,
        admin.get("/users"),
        admin.get(f"/users/{user_id}"),
        admin.patch(f"/users/{user_id}", {"password": "another long secret"}),
    ]

    for response in responses:
        assert response.status_code in (200, 201), response.get_json()
        text = response.get_data(as_text=True)
        assert secret not in text
        assert "another long secret" not in text
        assert "password" not in text
        assert "scrypt" not in text
        assert "pbkdf2" not in text
    # The new password is the one that works now.
    assert_status(
        admin.client.post(
            "/api/v1/auth/tokens", json={"email": "finance@test.example", "password": secret}
        ),
        401,
    )
    signed_in = admin.client.post(
        "/api/v1/auth/tokens",
        json={"email": "finance@test.example", "password": "another long secret"},
    )
    assert signed_in.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "city_member"}, "city_id"),
        ({"role": "city_member", "city_id": None}, "city_id"),
        ({"role": "admin", "city_id": "CITY"}, "city_id"),
        ({"role": "finance_officer", "mentor_city_ids": ["CITY"]}, "mentor_city_ids"),
        ({"role": "mentor", "mentor_city_ids": [99_999]}, "mentor_city_ids"),
        ({"role": "city_member", "city_id": 99_999}, "city_id"),
        ({"role": "superuser"}, "role"),
        ({"role": "admin", "password": "short"}, "password"),
        ({"role": "admin", "email": "not-an-email"}, "email"),
    ],
)
def test_a_user_with_inconsistent_fields_is_422_and_not_created(make, body, field):
    city = make.city()
    admin = make.as_role("admin")
    before = admin.get("/users").get_json()
    data = {"email": "someone@test.example", "password": "long enough secret", **body}
    for key, value in data.items():
        if value == "CITY":
            data[key] = city.id
        elif value == ["CITY"]:
            data[key] = [city.id]

    response = admin.post("/users", data)

    errors = assert_status(response, 422)["errors"]
    assert list(errors["json"]) == [field]
    assert admin.get("/users").get_json() == before


# ---------------------------------------------------------------------------------------------
# Titles


def test_a_title_that_ends_before_it_starts_is_422(make):
    city = make.city(title=False)
    admin = make.as_role("admin")

    response = admin.post(
        f"/cities/{city.id}/titles",
        {"year": 2030, "valid_from": "2030-06-02", "valid_until": "2030-06-01"},
    )

    assert "valid_until" in assert_status(response, 422)["errors"]["json"]
    assert admin.get(f"/cities/{city.id}").get_json()["titles"] == []


@pytest.mark.parametrize(
    ("year", "valid_from", "valid_until"),
    [
        pytest.param(2031, "2030-12-31", "2031-12-31", id="starts-on-the-last-day"),
        pytest.param(2029, "2029-01-01", "2030-01-01", id="ends-on-the-first-day"),
        pytest.param(2031, "2030-06-01", "2030-07-01", id="inside"),
        pytest.param(2031, "2029-01-01", "2032-12-31", id="around"),
        pytest.param(2030, "2035-01-01", "2035-12-31", id="same-year"),
    ],
)
def test_overlapping_titles_of_a_city_are_409(make, year, valid_from, valid_until):
    city = make.city(
        title=False,
    )
    admin = make.as_role("admin")
    first = admin.post(
        f"/cities/{city.id}/titles",
        {"year": 2030, "valid_from": "2030-01-01", "valid_until": "2030-12-31"},
    )
    assert first.status_code == 201, first.get_json()

    response = admin.post(
        f"/cities/{city.id}/titles",
        {"year": year, "valid_from": valid_from, "valid_until": valid_until},
    )

    assert assert_status(response, 409)["reason"] == "title_overlap"
    titles = admin.get(f"/cities/{city.id}").get_json()["titles"]
    assert [(t["year"], t["valid_from"], t["valid_until"]) for t in titles] == [
        (2030, "2030-01-01", "2030-12-31")
    ]


def test_titles_back_to_back_do_not_overlap(make):
    city = make.city(title=False)
    admin = make.as_role("admin")

    for year in (2030, 2031):
        response = admin.post(
            f"/cities/{city.id}/titles",
            {"year": year, "valid_from": f"{year}-01-01", "valid_until": f"{year}-12-31"},
        )
        assert response.status_code == 201, response.get_json()

    assert [t["year"] for t in admin.get(f"/cities/{city.id}").get_json()["titles"]] == [
        2030,
        2031,
    ]


# ---------------------------------------------------------------------------------------------
# Tokens


@pytest.fixture
def member(make: Factory) -> Caller:
    return make.as_role("city_member", city=make.city())


def _with_token(client: Any, header: str | None, path: str = "/api/v1/users/me") -> Any:
    headers = {"Authorization": header} if header is not None else {}
    return client.get(path, headers=headers)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty"),
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer ", id="blank-token"),
        pytest.param("Bearer garbage-token", id="garbage"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic"),
        pytest.param("TOKEN", id="token-without-scheme"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/grants", "/api/v1/grants/1"])
def test_401_without_a_valid_token(member, header, path):
    if header == "TOKEN":
        header = member.token

    body = assert_status(_with_token(member.client, header, path), 401)

    assert body["status"] == "Unauthorized"
    assert "Traceback" not in json.dumps(body)


def test_401_with_an_expired_token_and_not_a_moment_before(make, member):
    expired, _ = issue_token(member.user, now=utcnow() - dt.timedelta(hours=12, seconds=1))
    nearly, _ = issue_token(member.user, now=utcnow() - dt.timedelta(hours=11, minutes=59))
    db.session.commit()

    assert_status(_with_token(member.client, f"Bearer {expired}"), 401)
    assert _with_token(member.client, f"Bearer {nearly}").status_code == 200


def test_401_after_the_token_is_revoked(make, member):
    other_token, _ = issue_token(member.user)
    db.session.commit()
    assert member.get("/users/me").status_code == 200

    response = member.delete("/auth/tokens/current")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_status(member.get("/users/me"), 401)
    assert_status(member.get("/grants"), 401)
    assert_status(member.delete("/auth/tokens/current"), 401)
    # Only that token is revoked: the user's other sessions go on.
    assert _with_token(member.client, f"Bearer {other_token}").status_code == 200


def test_401_for_a_deactivated_user(make, member):
    admin = make.as_role("admin")
    assert admin.patch(f"/users/{member.user.id}", {"is_active": False}).status_code == 200

    assert_status(member.get("/users/me"), 401)


def test_sign_in_gives_a_token_that_works(app, make, member):
    before = utcnow()

    response = member.client.post(
        "/api/v1/auth/tokens", json={"email": member.user.email, "password": PASSWORD}
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["user"] == {
        "id": member.user.id,
        "email": member.user.email,
        "role": "city_member",
        "city_id": member.user.city_id,
    }
    expires_at = dt.datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    ttl = dt.timedelta(hours=app.config["TOKEN_TTL_HOURS"])
    assert before + ttl <= expires_at <= utcnow() + ttl
    assert len(body["token"]) >= 32
    me = _with_token(member.client, f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.get_json()["id"] == member.user.id


def test_unknown_email_and_wrong_password_get_the_same_401(member):
    unknown = member.client.post(
        "/api/v1/auth/tokens", json={"email": "nobody@test.example", "password": PASSWORD}
    )
    wrong = member.client.post(
        "/api/v1/auth/tokens", json={"email": member.user.email, "password": PASSWORD + "!"}
    )

    assert_status(unknown, 401)
    assert_status(wrong, 401)
    assert unknown.get_json() == wrong.get_json()
    assert "token" not in wrong.get_json()
