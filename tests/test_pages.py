"""The web pages through Flask's test client: sign-in, CSRF, scope, error pages, headers, forms."""

from __future__ import annotations

import re
from typing import Any

import pytest

from grants.extensions import db
from grants.grant.models import Grant
from grants.http.web import money
from tests.factories import PASSWORD
from tests.pages_helpers import Pages, token_of
from workflows.diagram import state_diagram_svg
from workflows.grant import GRANT

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


# ---------------------------------------------------------------------------------------------
# Signing in


def test_the_login_page_has_labelled_fields_and_a_log_in_button(client):
    html = client.get("/login").text
    assert '<label for="email">Email' in html
    assert '<label for="password">Password' in html
    assert ">Log in</button>" in html
    assert 'name="csrf_token"' in html


def test_signing_in_sets_a_hardened_session_cookie_and_signing_out_ends_it(make, app):
    member = make.user("city_member", city=make.city())
    p = Pages(app.test_client())
    response = p.sign_in(member.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert p.get("/dashboard").status_code == 200
    p.post("/logout")
    assert p.get("/dashboard").status_code == 302


def test_the_session_cookie_is_secure_over_https(make, app):
    member = make.user("city_member", city=make.city())
    client = app.test_client()
    page = client.get("/login", base_url="https://pearl.example")
    response = client.post(
        "/login",
        data={"email": member.email, "password": PASSWORD, "csrf_token": token_of(page.text)},
        base_url="https://pearl.example",
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_in_words(make, app):
    member = make.user("city_member", city=make.city())
    p = Pages(app.test_client())
    response = p.sign_in(member.email, "not the password")
    assert response.status_code == 401
    assert "Unknown email or wrong password." in response.text
    assert p.get("/dashboard").status_code == 302


def test_after_sign_in_only_a_path_of_this_site_is_followed(make, app):
    member = make.user("city_member", city=make.city())
    for target, lands in (
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/x", "/dashboard"),
        ("/grants?state=draft", "/grants?state=draft"),
    ):
        client = app.test_client()
        token = token_of(client.get("/login").text)
        response = client.post(
            "/login",
            data={"email": member.email, "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.headers["Location"] == lands


def test_pages_need_a_signed_in_user(client):
    response = client.get("/grants")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------
# CSRF


def test_a_form_posted_without_its_csrf_token_is_refused_and_changes_nothing(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    p = pages(member)
    for data in ({}, {"csrf_token": "forged"}):
        response = p.post(f"/grants/{grant.id}/events/submit", data, csrf=False)
        assert response.status_code == 400
        assert "security token" in response.text
        assert response.mimetype == "text/html"
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "draft"
    response = p.post(f"/grants/{grant.id}/events/submit")  # with the token: it goes through
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "submitted"


def test_the_login_form_needs_its_csrf_token_too(make, client):
    member = make.user("city_member", city=make.city())
    response = client.post("/login", data={"email": member.email, "password": PASSWORD})
    assert response.status_code == 400


def test_the_json_api_is_exempt_from_csrf(make, client):
    member = make.user("city_member", city=make.city())
    response = client.post(
        "/api/v1/auth/tokens", json={"email": member.email, "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.mimetype == "application/json"


# ---------------------------------------------------------------------------------------------
# Scope and roles


def test_a_city_member_opening_another_citys_grant_page_gets_404(make, pages):
    mine, theirs = make.city("Svendborg"), make.city("Kiel", country="DE")
    member = make.user("city_member", city=mine)
    grant = make.grant(theirs, state="submitted")
    p = pages(member)
    for path in (f"/grants/{grant.id}", f"/grants/{grant.id}/edit"):
        response = p.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "Kiel" not in response.text
    response = p.post(f"/grants/{grant.id}/events/withdraw")
    assert response.status_code == 404
    response = p.post(f"/grants/{grant.id}/comments", {"body": "hello"})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "submitted"


def test_a_mentor_sees_only_the_pilots_of_assigned_cities(make, pages):
    mine, other = make.city("Svendborg"), make.city("Kiel", country="DE")
    seen, unseen = make.grant(mine), make.grant(other)
    mentor = make.user("mentor", mentor_of=(mine,))
    p = pages(mentor)
    dashboard = p.get("/dashboard").text
    assert seen.title in dashboard
    assert unseen.title not in dashboard
    assert p.get(f"/grants/{unseen.id}").status_code == 404
    assert p.get(f"/grants/{seen.id}").status_code == 200


def test_roles_that_may_not_open_a_page_get_403(make, pages):
    member = make.user("city_member", city=make.city())
    p = pages(member)
    for path in ("/admin/users", "/admin/cities", "/statements"):
        response = p.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text


def test_an_auditor_reads_everything_and_changes_nothing(make, pages):
    city = make.city()
    grant = make.grant(city, state="submitted")
    p = pages(make.user("auditor"))
    html = p.get(f"/grants/{grant.id}").text
    assert "History" in html
    assert "Add comment" not in html
    assert "/events/" not in html  # no action button
    response = p.post(f"/grants/{grant.id}/events/approve")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "submitted"


# ---------------------------------------------------------------------------------------------
# Error pages and headers


def test_errors_are_html_pages_for_pages_and_json_for_the_api(make, pages, client):
    member_user = make.user("city_member", city=make.city())
    p = pages(member_user)
    for path in ("/grants/999999", "/no-such-page"):
        response = p.get(path)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "<h1" in response.text and "Page not found" in response.text
    api = make.caller(member_user)
    for path in ("/grants/999999", "/no-such-thing"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.mimetype == "application/json"
        assert response.get_json()["code"] == 404
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401 and response.get_json()["code"] == 401
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_a_409_page_says_the_reason_in_words(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, state="submitted")
    response = pages(member).get(f"/grants/{grant.id}/edit")
    assert response.status_code == 409
    assert response.mimetype == "text/html"
    assert "can be edited only while it is a draft" in response.text
    assert "Not possible in the current state" in response.text


def test_a_refused_action_is_shown_as_a_message_in_words(make, pages):
    city = make.city(cap=100_000)
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, amounts=(150_000,))
    p = pages(member)
    response = p.post(f"/grants/{grant.id}/events/submit")
    assert response.status_code == 409  # the grant page again at once, the refusal in words
    html = response.text
    assert "exceeds what is left of the title" in html
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "draft"


def test_a_500_page_reveals_no_internals_and_the_api_keeps_its_json(make, pages, monkeypatch):
    import grants.http.pages.dashboards as views

    def broken(user: Any) -> dict:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(views, "_city_dashboard", broken)
    member = make.user("city_member", city=make.city())
    p = pages(member)
    response = p.get("/dashboard")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "Something went wrong" in response.text


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json", "/api/v1/docs"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_error_answers_carry_the_security_headers_too(client):
    for path in ("/no-such-page", "/api/v1/no-such-thing"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP


def test_pages_have_no_inline_script_or_style_and_only_local_assets(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    p = pages(member)
    anonymous = Pages(p.client.application.test_client())
    for who, path in [
        (anonymous, "/login"),
        *[(p, path) for path in ("/dashboard", "/grants", f"/grants/{grant.id}", "/grants/new")],
    ]:
        response = who.get(path)
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=", html), path
        assert "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert not url.startswith(("http:", "https:", "//")), (path, url)
        assert '<meta name="viewport"' in html
        assert 'class="skip-link" href="#main"' in html
        assert '<main id="main"' in html


def test_signed_in_pages_are_not_cached(make, pages):
    p = pages(make.user("auditor"))
    assert p.get("/dashboard").headers["Cache-Control"] == "no-store"


# ---------------------------------------------------------------------------------------------
# Forms: the API's schemas and services behind them


def test_a_proposal_with_two_budget_lines_through_the_form(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    p = pages(member)
    title = city.titles[0]
    assert p.get("/grants/new").status_code == 200
    form = {
        "title": "Harbour stories",
        "summary": "Stories",
        "start_date": title.valid_from.isoformat(),
        "end_date": title.valid_until.isoformat(),
        "budget_lines-0-category": "fees",
        "budget_lines-0-description": "Storytellers",
        "budget_lines-0-amount": "1500.00",
        "budget_lines-1-category": "venue",
        "budget_lines-1-description": "Warehouse",
        "budget_lines-1-amount": "800.50",
        "budget_lines-2-category": "",
        "budget_lines-2-description": "",
        "budget_lines-2-amount": "",
    }
    response = p.post("/grants/new", form)
    assert response.status_code == 302
    grant = db.session.scalar(db.select(Grant).where(Grant.title == "Harbour stories"))
    assert grant.requested_cents == 230050
    assert [b.amount_cents for b in grant.budget_lines] == [150000, 80050]
    html = p.get(response.headers["Location"]).text
    assert "2,300.50\u00a0EUR" in html
    assert "Proposal saved as a draft" in html


def test_field_errors_are_shown_next_to_their_fields(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    p = pages(member)
    p.get("/grants/new")
    response = p.post(
        "/grants/new",
        {
            "title": "",
            "start_date": city.titles[0].valid_from.isoformat(),
            "end_date": city.titles[0].valid_until.isoformat(),
            "budget_lines-0-category": "fees",
            "budget_lines-0-description": "Storytellers",
            "budget_lines-0-amount": "12,5O",
        },
    )
    assert response.status_code == 422
    html = response.text
    assert re.search(r'id="title-error">\s*<li>Please fill this in\.</li>', html)
    assert re.search(r'id="budget_lines-0-amount-error">\s*<li>Must have the form', html)
    assert 'value="12,5O"' in html  # what was typed is kept
    assert db.session.scalar(db.select(db.func.count(Grant.id))) == 0


def test_budget_lines_can_be_added_and_removed_without_javascript(make, pages):
    city = make.city()
    p = pages(make.user("city_member", city=city))
    p.get("/grants/new")
    base = {
        "title": "Pilot",
        "budget_lines-0-category": "fees",
        "budget_lines-0-description": "A",
        "budget_lines-0-amount": "1.00",
        "budget_lines-1-category": "venue",
        "budget_lines-1-description": "B",
        "budget_lines-1-amount": "2.00",
    }
    html = p.post("/grants/new", {**base, "op": "add_line"}).text
    assert 'name="budget_lines-2-amount"' in html
    html = p.post("/grants/new", {**base, "op": "remove_line:0"}).text
    assert 'value="B"' in html and 'value="A"' not in html


def test_the_finance_queue_shows_own_payouts_without_a_confirm_button(make, pages):
    city = make.city()
    grant = make.grant(city, state="approved")
    officer_a, officer_b = make.user("finance_officer"), make.user("finance_officer")
    a = pages(officer_a)
    html = a.get("/dashboard").text
    assert "Payouts to authorise" in html and grant.title in html
    assert a.post(f"/grants/{grant.id}/payouts", {"kind": "advance"}).status_code == 302
    html = a.get("/dashboard").text
    assert "You authorised this payout: another finance officer confirms it." in html
    assert "Confirm paid" not in html
    html = pages(officer_b).get("/dashboard").text
    assert "Confirm paid" in html


# ---------------------------------------------------------------------------------------------
# Showing things


def test_money_is_shown_with_separators_and_its_currency():
    assert money(123450) == "1,234.50\u00a0EUR"
    assert money(5) == "0.05\u00a0EUR"
    assert money(-120000) == "−1,200.00\u00a0EUR"
    assert money(74604, "DKK") == "746.04\u00a0DKK"
    assert money(None) == "—"


def test_the_state_diagram_is_generated_from_the_workflow_table():
    svg = state_diagram_svg(GRANT, "approved")
    for state in GRANT.states:
        assert f'data-state="{state}"' in svg
    for transition in GRANT.transitions:
        assert f">{transition.event.replace('_', ' ')}</text>" in svg
    arrows = sum(len(t.sources) for t in GRANT.transitions)
    assert svg.count('<path class="sd-edge') == arrows
    current = re.findall(r'<g class="([^"]+)" data-state="([a-z_]+)"', svg)
    assert [s for cls, s in current if "current" in cls.split()] == ["approved"]
    assert "style=" not in svg
    # From approved, the next steps (advance paid, terminate) are the bold ones.
    assert svg.count('class="sd-edge sd-next"') == 2


def test_the_grant_page_shows_the_events_this_user_may_fire_as_buttons(make, pages):
    city = make.city()
    grant = make.grant(city, state="submitted")
    html = pages(make.user("finance_officer")).get(f"/grants/{grant.id}").text
    for label in ("Request changes", "Approve", "Reject"):
        assert f">{label}</button>" in html
    assert ">Withdraw proposal</button>" not in html
    assert 'class="sd-state current" data-state="submitted"' in html


def test_an_admin_manages_cities_titles_users_and_mentor_assignments(make, pages):
    from grants.cities.models import City
    from grants.users.models import User

    p = pages(make.user("admin"))
    response = p.post("/admin/cities", {"name": "Rūjiena", "country": "LV", "population": "2900"})
    assert response.status_code == 302
    city = db.session.scalar(db.select(City).where(City.name == "Rūjiena"))
    assert (city.country, city.population, city.is_capital) == ("LV", 2900, False)
    p.get(response.headers["Location"])
    response = p.post(
        f"/admin/cities/{city.id}",
        {"year": "2025", "valid_from": "2025-01-01", "valid_until": "2026-12-31", "cap": ""},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [(t.year, t.cap_cents) for t in db.session.get(City, city.id).titles] == [
        (2025, 500_000)
    ]
    # An overlapping title is refused in words, next to nothing changed.
    response = p.post(
        f"/admin/cities/{city.id}",
        {"year": "2026", "valid_from": "2026-01-01", "valid_until": "2026-06-30"},
    )
    assert response.status_code == 409
    assert "overlaps" in response.text
    p.get("/admin/users")
    response = p.post(
        "/admin/users",
        {
            "email": "Mentor.New@Pearl.example",
            "password": "long enough password",
            "role": "mentor",
            "mentor_city_ids": [str(city.id)],
        },
    )
    assert response.status_code == 302, response.text
    mentor = db.session.scalar(db.select(User).where(User.email == "mentor.new@pearl.example"))
    assert mentor.mentor_city_ids == [city.id]
    p.get(f"/admin/users/{mentor.id}")
    response = p.post(f"/admin/users/{mentor.id}", {"is_active": "y"})  # no city ticked
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, mentor.id).mentor_city_ids == []
    # A short password is a field error on the form.
    p.get("/admin/users")
    response = p.post(
        "/admin/users", {"email": "x@pearl.example", "password": "short", "role": "auditor"}
    )
    assert response.status_code == 422
    assert re.search(r'id="password-error">\s*<li>Use 10 to 1024 characters', response.text)


def test_a_city_that_may_not_propose_gets_the_reason_in_words(make, pages):
    capital = make.city("Riga", country="LV", is_capital=True)
    response = pages(make.user("city_member", city=capital)).get("/grants/new")
    assert response.status_code == 409
    assert "Riga is a capital; capitals are not eligible." in response.text


def test_a_report_form_keeps_what_was_typed_and_marks_the_wrong_fields(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, state="disbursed")
    p = pages(member)
    p.get(f"/grants/{grant.id}/reports/new?kind=interim")
    response = p.post(
        f"/grants/{grant.id}/reports/new?kind=interim",
        {
            "activities": "Workshops",
            "expenses-0-invoice_number": "INV-1",
            "expenses-0-invoice_date": "2025-02-30",
            "expenses-0-supplier": "Printer",
            "expenses-0-description": "Posters",
            "expenses-0-category": "communication",
            "expenses-0-currency": "dkk",
            "expenses-0-amount": "100.00",
            "expenses-1-invoice_number": "INV-2",
            "expenses-1-invoice_date": "2025-02-28",
            "expenses-1-supplier": "Hall",
            "expenses-1-description": "Rent",
            "expenses-1-category": "venue",
            "expenses-1-currency": "EUR",
            "expenses-1-amount": "100.00",
            "expenses-1-vat_amount": "200.00",
        },
    )
    assert response.status_code == 422
    html = response.text
    assert re.search(r'id="expenses-0-invoice_date-error">\s*<li>Not a valid date', html)
    assert re.search(r'id="expenses-1-vat_amount-error">\s*<li>Must not exceed amount', html)
    assert 'value="Printer"' in html and "Workshops" in html


def test_internal_comments_are_not_shown_to_the_city(make, pages):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, state="submitted")
    mentor = pages(make.user("mentor", mentor_of=(city,)))
    mentor.get(f"/grants/{grant.id}")
    mentor.post(f"/grants/{grant.id}/comments", {"body": "Between us", "visibility": "internal"})
    mentor.post(f"/grants/{grant.id}/comments", {"body": "For the city", "visibility": "shared"})
    staff_html = mentor.get(f"/grants/{grant.id}").text
    assert "Between us" in staff_html and "For the city" in staff_html
    city_html = pages(member).get(f"/grants/{grant.id}").text
    assert "For the city" in city_html
    assert "Between us" not in city_html
    assert 'value="internal"' not in city_html  # no choice of an internal comment either
