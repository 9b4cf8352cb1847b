"""Sessions end when they should: logout, a new password, a deactivation, a new role.

Page sessions live on the server (the cookie holds a random id, the database its hash); API
tokens are revoked with them. Also here: where sign-in may send people (``next``), the last
active admin, and PATCHes of a user that change nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from grants.audit import AuditEvent
from grants.extensions import db
from grants.users.models import PageSession, User
from tests.conftest import needs_postgres
from tests.factories import PASSWORD, Caller, Factory

NEW_PASSWORD = "a brand new long password"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


class Browser:
    """Someone using the pages: a cookie jar and the CSRF token of the last page seen."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.token = ""

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        if response.mimetype == "text/html" and "csrf_token" in response.text:
            self.token = csrf_of(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})})

    def sign_in(self, email: str, password: str = PASSWORD, next_url: str | None = None) -> Any:
        self.get("/login")
        form = {"email": email, "password": password}
        if next_url is not None:
            form["next"] = next_url
        return self.post("/login", form)

    def signed_in(self) -> bool:
        """What the user sees: the dashboard (signed in) or a redirect to the sign-in page."""
        response = self.get("/dashboard")
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login")
            return False
        assert response.status_code == 200, response.text
        return True

    @property
    def cookie(self) -> str:
        cookie = self.client.get_cookie("session")
        assert cookie is not None
        return cookie.value

    def replay(self, cookie: str) -> Browser:
        """Another browser holding a copy of ``cookie`` (an attacker who kept it)."""
        other = Browser(self.app)
        other.client.set_cookie("session", cookie)
        return other


def signed_in_browser(app: Flask, user: User) -> Browser:
    browser = Browser(app)
    response = browser.sign_in(user.email)
    assert response.status_code == 302, response.text
    assert browser.signed_in()
    return browser


def token_works(caller: Caller) -> bool:
    status = caller.get("/users/me").status_code
    assert status in (200, 401)
    return status == 200


def user_events(user_id: int) -> list[AuditEvent]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == "user", AuditEvent.subject_id == user_id)
            .order_by(AuditEvent.id)
        )
    )


def fresh_token(app: Flask, email: str, password: str = PASSWORD) -> int:
    return (
        app.test_client()
        .post("/api/v1/auth/tokens", json={"email": email, "password": password})
        .status_code
    )


# ---------------------------------------------------------------------------------------------
# Logout


def test_a_session_cookie_replayed_after_logout_is_signed_out(make: Factory, app: Flask) -> None:
    member = make.user("city_member", city=make.city())
    browser = signed_in_browser(app, member)
    kept = browser.cookie
    assert browser.replay(kept).signed_in()  # the copy works while the session lasts

    assert browser.post("/logout").status_code == 302
    assert not browser.signed_in()
    assert not browser.replay(kept).signed_in()  # and never again after logout
    assert signed_in_browser(app, member).signed_in()  # signing in again works


def test_the_cookie_holds_a_random_session_id_and_the_database_only_its_hash(
    make: Factory, app: Flask
) -> None:
    member = make.user("city_member", city=make.city())
    browser = signed_in_browser(app, member)
    content = app.session_interface.get_signing_serializer(app).loads(browser.cookie)
    assert content["uid"] == member.id
    assert len(content["sid"]) >= 40
    db.session.rollback()
    (row,) = db.session.scalars(select(PageSession).where(PageSession.user_id == member.id))
    assert row.token_hash == hashlib.sha256(content["sid"].encode()).hexdigest()
    assert row.revoked_at is None


def test_a_forged_cookie_with_another_user_id_signs_nobody_in(make: Factory, app: Flask) -> None:
    member = make.user("city_member", city=make.city())
    admin = make.user("admin")
    browser = signed_in_browser(app, member)
    serializer = app.session_interface.get_signing_serializer(app)
    content = serializer.loads(browser.cookie)
    assert not browser.replay(serializer.dumps({**content, "uid": admin.id})).signed_in()
    assert not browser.replay(serializer.dumps({"uid": member.id})).signed_in()  # the old kind


def test_signing_out_ends_only_that_session(make: Factory, app: Flask) -> None:
    member = make.user("city_member", city=make.city())
    laptop, phone = signed_in_browser(app, member), signed_in_browser(app, member)
    token = make.caller(member)
    laptop.post("/logout")
    assert not laptop.signed_in()
    assert phone.signed_in()
    assert token_works(token)


# ---------------------------------------------------------------------------------------------
# Password change, deactivation, role change


def _change_by_api(make: Factory, target: User, body: dict[str, Any]) -> None:
    admin = make.as_role("admin")
    response = admin.patch(f"/users/{target.id}", body)
    assert response.status_code == 200, response.get_json()


def _change_by_page(make: Factory, app: Flask, target: User, form: dict[str, Any]) -> None:
    admin = signed_in_browser(app, make.user("admin"))
    admin.get(f"/admin/users/{target.id}")
    response = admin.post(f"/admin/users/{target.id}", form)
    assert response.status_code == 302, response.text
    assert admin.signed_in()  # the admin's own session is untouched


@pytest.mark.parametrize("channel", ["api", "page"])
def test_after_an_admin_sets_a_new_password_old_tokens_and_cookies_are_dead(
    make: Factory, app: Flask, channel: str
) -> None:
    member = make.user("city_member", city=make.city())
    bystander = make.user("city_member", city=make.city())
    token, browser = make.caller(member), signed_in_browser(app, member)
    other_token, other_browser = make.caller(bystander), signed_in_browser(app, bystander)
    kept = browser.cookie

    if channel == "api":
        _change_by_api(make, member, {"password": NEW_PASSWORD})
    else:
        _change_by_page(
            make,
            app,
            member,
            {
                "is_active": "y",
                "password": NEW_PASSWORD,
                "role": "city_member",
                "city_id": str(member.city_id),
            },
        )

    assert not token_works(token)
    assert not browser.signed_in()
    assert not browser.replay(kept).signed_in()
    assert token_works(other_token) and other_browser.signed_in()  # only that user's sessions
    assert fresh_token(app, member.email) == 401  # the old password is gone
    assert fresh_token(app, member.email, NEW_PASSWORD) == 201
    again = Browser(app)
    assert again.sign_in(member.email, NEW_PASSWORD).status_code == 302
    assert again.signed_in()
    (event,) = [e for e in user_events(member.id) if e.action == "user_updated"]
    assert event.data["password_changed"] is True and event.data["sessions_ended"] is True
    assert "a brand new" not in str(event.data)


@pytest.mark.parametrize("channel", ["api", "page"])
def test_after_deactivation_and_reactivation_old_tokens_and_cookies_stay_dead(
    make: Factory, app: Flask, channel: str
) -> None:
    member = make.user("city_member", city=make.city())
    token, browser = make.caller(member), signed_in_browser(app, member)
    kept = browser.cookie
    city = str(member.city_id)

    for active in (False, True):
        if channel == "api":
            _change_by_api(make, member, {"is_active": active})
        else:
            form = {"role": "city_member", "city_id": city} | ({"is_active": "y"} if active else {})
            _change_by_page(make, app, member, form)
        if not active:
            assert fresh_token(app, member.email) == 401
            assert Browser(app).sign_in(member.email).status_code == 401

    assert not token_works(token)
    assert not browser.signed_in()
    assert not browser.replay(kept).signed_in()
    assert fresh_token(app, member.email) == 201  # a fresh sign-in works
    assert signed_in_browser(app, member).signed_in()
    changes = [
        e.data.get("is_active") for e in user_events(member.id) if e.action == "user_updated"
    ]
    assert changes == [False, True]


def test_a_role_change_ends_sessions_and_tokens_and_keeps_the_city_rule(
    make: Factory, app: Flask
) -> None:
    city = make.city()
    admin = make.as_role("admin")
    mentor = make.user("mentor", mentor_of=(city,))
    token, browser = make.caller(mentor), signed_in_browser(app, mentor)

    # A city member needs a city, other roles none: refused, and nothing ends.
    r = admin.patch(f"/users/{mentor.id}", {"role": "city_member"})
    assert r.status_code == 422 and "city_id" in r.get_json()["errors"]["json"]
    r = admin.patch(f"/users/{mentor.id}", {"role": "auditor", "city_id": city.id})
    assert r.status_code == 422 and "city_id" in r.get_json()["errors"]["json"]
    r = admin.patch(f"/users/{mentor.id}", {"role": "auditor", "mentor_city_ids": [city.id]})
    assert r.status_code == 422
    assert token_works(token) and browser.signed_in()

    r = admin.patch(f"/users/{mentor.id}", {"role": "city_member", "city_id": city.id})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["role"], r.get_json()["city_id"]) == ("city_member", city.id)
    assert r.get_json()["mentor_city_ids"] == []
    assert not token_works(token)
    assert not browser.signed_in()

    member = make.caller(db.session.get(User, mentor.id))
    assert member.get("/users/me").get_json()["role"] == "city_member"
    # Back to staff: the city goes with the role.
    r = admin.patch(f"/users/{mentor.id}", {"role": "finance_officer"})
    assert r.status_code == 200 and r.get_json()["city_id"] is None
    assert not token_works(member)
    roles = [e.data.get("role") for e in user_events(mentor.id) if e.action == "user_updated"]
    assert roles == [
        {"from": "mentor", "to": "city_member"},
        {"from": "city_member", "to": "finance_officer"},
    ]


def test_a_role_change_through_the_user_page(make: Factory, app: Flask) -> None:
    auditor = make.user("auditor")
    token, browser = make.caller(auditor), signed_in_browser(app, auditor)
    _change_by_page(make, app, auditor, {"is_active": "y", "role": "finance_officer"})
    db.session.rollback()
    assert db.session.get(User, auditor.id).role == "finance_officer"
    assert not token_works(token)
    assert not browser.signed_in()


# ---------------------------------------------------------------------------------------------
# Where sign-in sends people


HOSTILE_NEXT = [
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "//evil.example/x",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/%09/evil.example",
    " //evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
    "/..//evil.example",
    "/%2e%2e//evil.example",
    "evil.example",
    "",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_hostile_next_lands_on_the_dashboard(make: Factory, app: Flask, target: str) -> None:
    member = make.user("city_member", city=make.city())
    response = Browser(app).sign_in(member.email, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


@pytest.mark.parametrize("target", ["/grants/3?tab=x", "/grants?title=Pilot%20one"])
def test_a_path_of_this_site_is_followed(make: Factory, app: Flask, target: str) -> None:
    member = make.user("city_member", city=make.city())
    browser = Browser(app)
    assert browser.sign_in(member.email, next_url=target).headers["Location"] == target
    # and a signed-in visitor of /login?next=… is sent on the same way
    assert browser.get(f"/login?next={quote(target, safe='/')}").headers["Location"] == target
    assert browser.get("/login?next=//evil.example").headers["Location"] == "/dashboard"


# ---------------------------------------------------------------------------------------------
# The last active admin


def test_the_last_admin_cannot_deactivate_or_demote_themself(make: Factory, app: Flask) -> None:
    admin = make.as_role("admin")
    make.user("admin").is_active = False  # an inactive admin does not count
    db.session.commit()
    for body in ({"is_active": False}, {"role": "auditor"}, {"role": "mentor", "is_active": False}):
        r = admin.patch(f"/users/{admin.user.id}", body)
        assert r.status_code == 409, r.get_json()
        assert r.get_json()["reason"] == "invalid_transition"
        assert "last active admin" in r.get_json()["message"]
    assert token_works(admin)
    me = admin.get("/users/me").get_json()
    assert (me["role"], me["is_active"]) == ("admin", True)
    assert user_events(admin.user.id) == []

    # The page says so in words, and changes nothing.
    browser = signed_in_browser(app, admin.user)
    browser.get(f"/admin/users/{admin.user.id}")
    response = browser.post(f"/admin/users/{admin.user.id}", {"role": "admin"})  # unticked
    assert response.status_code == 409
    assert "last active admin" in response.text
    assert browser.signed_in()

    # With a second admin, one may step down.
    make.user("admin")
    r = admin.patch(f"/users/{admin.user.id}", {"role": "auditor"})
    assert r.status_code == 200
    assert not token_works(admin)


def _active_admins() -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == "admin", User.is_active.is_(True))
    )


@needs_postgres
def test_two_admins_removing_each_other_at_once_leave_one_active_admin(
    make: Factory, live: Any
) -> None:
    outcomes: Counter[tuple[int, ...]] = Counter()
    for round_ in range(12):
        db.session.execute(update(User).where(User.role == "admin").values(is_active=False))
        db.session.commit()
        a, b = make.as_role("admin"), make.as_role("admin")
        body = {"is_active": False} if round_ % 2 == 0 else {"role": "auditor"}
        db.session.rollback()  # hold no transaction while the server works
        replies = live.at_once(
            [
                ("PATCH", f"/users/{b.user.id}", a.token, body),
                ("PATCH", f"/users/{a.user.id}", b.token, body),
            ]
        )
        statuses = tuple(sorted(r.status for r in replies))
        outcomes[statuses] += 1
        assert _active_admins() == 1, (round_, [r.text for r in replies])
        # One wins; the other is refused as the last admin (or, arriving after the winner
        # committed, finds its own token revoked).
        assert statuses in ((200, 409), (200, 401)), [r.text for r in replies]
        refused = [r for r in replies if r.status == 409]
        assert all(r.body["reason"] == "invalid_transition" for r in refused)
    assert outcomes[(200, 409)] > 0, outcomes  # the race really happened


# ---------------------------------------------------------------------------------------------
# PATCHes that change nothing


def test_an_empty_patch_or_one_that_changes_nothing_records_nothing(
    make: Factory, app: Flask
) -> None:
    city = make.city()
    admin = make.as_role("admin")
    mentor = make.user("mentor", mentor_of=(city,))
    token = make.caller(mentor)
    for body in (
        {},
        {"is_active": True},
        {"role": "mentor"},
        {"role": "mentor", "city_id": None, "mentor_city_ids": [city.id]},
    ):
        r = admin.patch(f"/users/{mentor.id}", body)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["mentor_city_ids"] == [city.id]
    assert user_events(mentor.id) == []
    assert token_works(token)  # nothing changed: nothing ended

    r = admin.patch(f"/users/{mentor.id}", {"mentor_city_ids": []})
    assert r.status_code == 200
    (event,) = user_events(mentor.id)
    assert event.data == {"mentor_city_ids": {"from": [city.id], "to": []}}
    assert token_works(token)  # reassigning cities is no reason to sign out


def test_saving_the_user_page_unchanged_records_nothing(make: Factory, app: Flask) -> None:
    member = make.user("city_member", city=make.city())
    _change_by_page(
        make, app, member, {"is_active": "y", "role": "city_member", "city_id": str(member.city_id)}
    )
    assert user_events(member.id) == []


# ---------------------------------------------------------------------------------------------
# The text rule on the user schemas


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a\u0007b@test.example", "password": PASSWORD},
        {"email": "ab@test.example", "password": "lone \ud800 surrogate"},
        {"email": "ab@test.example\x00", "password": PASSWORD},
        {"email": "x" * 100_000, "password": PASSWORD},
        {"email": "ab@test.example", "password": "p" * 100_000},
    ],
)
def test_hostile_sign_in_text_is_a_422(app: Flask, make: Factory, body: dict[str, str]) -> None:
    r = app.test_client().post("/api/v1/auth/tokens", json=body)
    assert r.status_code == 422, r.get_json()


def test_hostile_user_fields_are_422_and_create_nothing(make: Factory) -> None:
    admin = make.as_role("admin")
    good = {"email": "new@test.example", "password": NEW_PASSWORD, "role": "auditor"}
    for field, value in (
        ("email", "new\u0085@test.example"),
        ("password", "ten chars \x07 and more"),
        ("password", "ten chars \udc00 and more"),
        ("role", "auditor\x00"),
        ("role", "a" * 100_000),
    ):
        r = admin.post("/users", {**good, field: value})
        assert r.status_code == 422, r.get_json()
        assert field in r.get_json()["errors"]["json"]
    target = make.user("auditor")
    r = admin.patch(f"/users/{target.id}", {"password": "x\ud800" * 10})
    assert r.status_code == 422
    r = admin.patch(f"/users/{target.id}", {"role": "admin\u0000"})
    assert r.status_code == 422
    assert admin.get("/users").get_json()[-1]["email"] == target.email
    assert user_events(target.id) == []


def test_a_password_is_kept_exactly_as_typed(make: Factory, app: Flask) -> None:
    admin = make.as_role("admin")
    r = admin.post(
        "/users",
        {"email": "spaces@test.example", "password": "  padded password  ", "role": "auditor"},
    )
    assert r.status_code == 201
    assert fresh_token(app, "spaces@test.example", "  padded password  ") == 201
    assert fresh_token(app, "spaces@test.example", "padded password") == 401
