"""The authorisation matrix (tests/authz_matrix.py) against the app.

1. Every (rule, method) of the URL map, HEAD and OPTIONS aside, is a row of the matrix, and every
   row is a route of the URL map (its path resolves to its endpoint and method).
2. Every cell holds: fresh objects in the row's ``given`` world, the request sent as the column's
   caller (API: bearer token; pages: a signed-in session cookie and its CSRF token), the status
   as written. A page form that is expected to redirect must also have done its work: a refusal
   shown as an error message (and a redirect) does not count as allowed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from werkzeug.exceptions import HTTPException

from exports.models import FINISHED, Export
from grants.banking.services import account_in_force
from grants.cities.models import City
from grants.db import today, utcnow
from grants.extensions import db
from grants.payouts.models import Payout
from grants.reports.models import Attachment, ExpenseLine, Report
from grants.users.credentials import issue_token, open_page_session
from grants.users.models import User
from tests.authz_matrix import (
    ANONYMOUS,
    CITY_MEMBER,
    MATRIX,
    MENTOR,
    SCOPED_COLUMNS,
    UNSCOPED_COLUMNS,
    Route,
)
from tests.factories import Factory

PDF = b"%PDF-1.4\n% a receipt\n%%EOF\n"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
#: Page routes that answer a visitor who is not signed in (others send them to /login).
NO_SIGN_IN = {"users_pages.login", "users_pages.logout"}
SAMPLE = {
    "grant": 1,
    "report": 1,
    "expense": 1,
    "payout": 1,
    "attachment": 1,
    "export": 1,
    "city": 1,
    "account": 1,
    "user": 1,
    "user_email": "x@test.example",
    "today": "2025-01-01",
    "end": "2025-02-01",
    "month": "2025-01",
    "year": 2025,
    "later_year": 2027,
    "later_from": "2027-01-01",
    "later_until": "2027-12-31",
}


# ---------------------------------------------------------------------------------------------
# 1. The matrix covers the URL map, and only it


def url_map_routes(app: Flask) -> dict[tuple[str, str], str]:
    """``(endpoint, method) → rule`` of every route of the app (HEAD and OPTIONS aside)."""
    return {
        (rule.endpoint, method): rule.rule
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IGNORED_METHODS
    }


def test_every_route_of_the_url_map_is_in_the_matrix_and_nothing_else(app):
    in_app = url_map_routes(app)
    in_matrix = {(r.endpoint, r.method): r.path for r in MATRIX}
    missing = [f"{m} {in_app[e, m]} ({e})" for e, m in sorted(in_app.keys() - in_matrix.keys())]
    unknown = [f"{m} {in_matrix[e, m]} ({e})" for e, m in sorted(in_matrix.keys() - in_app.keys())]
    assert not missing and not unknown, (
        f"routes of the URL map missing from tests/authz_matrix.py: {missing}; "
        f"matrix entries that are not routes of the app: {unknown}"
    )


def test_every_row_of_the_matrix_resolves_to_its_endpoint(app):
    adapter = app.url_map.bind("localhost")
    wrong = []
    for route in MATRIX:
        path = route.path.format(**SAMPLE).partition("?")[0]
        try:
            endpoint, _ = adapter.match(path, method=route.method)
        except HTTPException as exc:
            endpoint = f"{exc.code}"
        if endpoint != route.endpoint:
            wrong.append(f"{route.method} {route.path} → {endpoint}, not {route.endpoint}")
    assert not wrong, wrong


def test_every_row_has_the_columns_of_its_kind():
    seen = set()
    for route in MATRIX:
        assert tuple(route.expect) in (SCOPED_COLUMNS, UNSCOPED_COLUMNS), route.id
        assert route.id not in seen, f"two rows named {route.id}: give them variants"
        seen.add(route.id)


# ---------------------------------------------------------------------------------------------
# 2. Every cell holds

CELLS = [
    pytest.param(route, column, id=f"{route.id}-{column}")
    for route in MATRIX
    for column in route.expect
]


class World:
    """The two cities, the objects of ``given`` in the own city, and the placeholders."""

    def __init__(self, make: Factory, given: str) -> None:
        self.make = make
        self.own = make.city("Svendborg")
        self.other = make.city("Brzeg", country="PL")
        title = self.own.titles[0]
        later_from = title.valid_until + dt.timedelta(days=30)
        self.ids: dict[str, Any] = {
            "city": self.own.id,
            "today": today().isoformat(),
            "end": (today() + dt.timedelta(days=30)).isoformat(),
            "month": today().strftime("%Y-%m"),
            "year": title.year,
            "later_year": later_from.year,
            "later_from": later_from.isoformat(),
            "later_until": (later_from + dt.timedelta(days=300)).isoformat(),
        }
        kind, _, state = given.partition(":")
        build = getattr(self, f"_{kind}", None)
        if given != "-":
            assert build is not None, f"unknown given world {given!r}"
            build(state)
        db.session.commit()

    def _user(self, _: str) -> None:
        user = self.make.user("auditor")
        self.ids.update(user=user.id, user_email=user.email)

    def _grant(self, state: str) -> Any:
        grant = self.make.grant(self.own, state=state)
        self.ids["grant"] = grant.id
        return grant

    def _agreement(self, state: str) -> None:
        grant = self.make.grant(self.own, state="approved", agreement=state)
        self.ids["grant"] = grant.id

    def _report(self, state: str) -> Report:
        grant = self._grant("disbursed")
        submitted = state == "submitted"
        line = ExpenseLine(
            position=1,
            invoice_number="INV-1",
            invoice_date=today(),
            payment_date=today(),
            supplier="Printer",
            description="Posters",
            category="communication",
            currency="EUR",
            amount_cents=10_000,
            vat_cents=0,
            vat_recoverable=False,
        )
        if submitted:  # converted as on submission: EUR at rate 1
            line.rate_micros = 1_000_000
            line.vat_eur_cents = 0
            line.amount_eur_cents = line.eligible_eur_cents = 10_000
        report = Report(
            grant_id=grant.id,
            kind="interim",
            state=state,
            narrative={"activities": "Workshops"},
            created_by_id=grant.created_by_id,
            submitted_at=utcnow() if submitted else None,
            expenses=[line],
        )
        db.session.add(report)
        db.session.flush()
        self.ids.update(report=report.id, expense=line.id)
        return report

    def _payout(self, state: str) -> None:
        grant = self._grant("approved")
        authoriser = self.make.user("finance_officer")  # never the caller: four eyes
        amount = grant.approved_cents // 2
        payout = Payout(
            grant_id=grant.id,
            kind="advance",
            amount_cents=amount,
            state=state,
            authorised_by_id=authoriser.id,
        )
        account = account_in_force(self.own.id)  # the factory's verified account, copied
        payout.account_id, payout.account_holder = account.id, account.holder
        payout.account_iban, payout.account_bic = account.iban, account.bic
        grant.payout_cents += amount
        db.session.add(payout)
        db.session.flush()
        self.ids["payout"] = payout.id

    def _account(self, state: str) -> None:
        """A change of the own city's account, proposed by an officer who is not the caller."""
        proposer = self.make.user("finance_officer")
        account = self.make.bank_account(
            self.own, state=state, iban="LV80BANK0000435195001", proposed_by=proposer
        )
        self.ids["account"] = account.id

    def _attachment(self, _: str) -> None:
        report = self._report("draft")
        attachment = Attachment(
            report_id=report.id,
            expense_id=self.ids["expense"],
            file_name="receipt.pdf",
            content_type="application/pdf",
            size=len(PDF),
            sha256=hashlib.sha256(PDF).hexdigest(),
            uploaded_by_id=report.created_by_id,
            content=PDF,
        )
        db.session.add(attachment)
        db.session.flush()
        self.ids["attachment"] = attachment.id

    def _export(self, _: str) -> None:
        content = b"PK\x03\x04 a workbook"
        export = Export(
            kind="programme_statement",
            params={"title_year": self.ids["year"]},
            requested_by_id=self.make.user("auditor").id,
            status=FINISHED,
            progress=100,
            file_name="statement.xlsx",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
            finished_at=utcnow(),
        )
        db.session.add(export)
        db.session.flush()
        self.ids["export"] = export.id

    def caller(self, column: str) -> User | None:
        """The user of a column: a member or mentor of the own or the other city, or staff."""
        role, _, scope = column.partition("/")
        if role == ANONYMOUS:
            return None
        city: City = self.other if scope == "other" else self.own
        if role == CITY_MEMBER:
            return self.make.user(role, city=city)
        if role == MENTOR:
            return self.make.user(role, mentor_of=(city,))
        return self.make.user(role)


def fill(value: Any, ids: dict[str, Any]) -> Any:
    """The placeholders of a path or body replaced (a whole ``"{id}"`` keeps its type)."""
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        if whole:
            return ids[whole.group(1)]
        return value.format(**ids)
    return value


def with_files(form: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (BytesIO(PDF), v[1:]) if isinstance(v, str) and v.startswith("@") else v
        for k, v in form.items()
    }


def send(
    app: Flask, route: Route, user: User | None, ids: dict[str, Any]
) -> tuple[Any, list[tuple[str, str]]]:
    """The response, and the messages a page flashed (category, text)."""
    path = fill(route.path, ids)
    body = fill(route.body, ids)
    client = app.test_client()
    if path.startswith("/api/"):
        headers = {}
        if user is not None:
            raw, _ = issue_token(user)
            db.session.commit()
            headers["Authorization"] = f"Bearer {raw}"
        if body and any(str(v).startswith("@") for v in body.values()):
            data = with_files(body)
            return client.open(path, method=route.method, data=data, headers=headers), []
        return client.open(path, method=route.method, json=body, headers=headers), []
    # A page: the browser's session cookie holds the CSRF token (and the user, when signed in).
    token = secrets.token_urlsafe(16)
    with client.session_transaction() as session:
        if user is not None:
            session["uid"] = user.id
            session["sid"] = open_page_session(user)
        session["csrf"] = token
    db.session.commit()
    if route.method == "GET":
        return client.get(path), []
    form = {**with_files({k: str(v) for k, v in (body or {}).items()}), "csrf_token": token}
    response = client.open(path, method=route.method, data=form)
    with client.session_transaction() as session:
        return response, list(session.get("_flashes", []))


def _show(response: Any) -> str:
    if not (response.is_json or response.mimetype == "text/html"):
        return f"{response.status_code} {response.mimetype}"
    text = response.get_data(as_text=True)
    if response.mimetype == "text/html":
        found = re.search(r"<main.*?</main>", text, re.S)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0) if found else text))
    return f"{response.status_code} {response.headers.get('Location', '')} {text[:400]}"


@pytest.mark.parametrize(("route", "column"), CELLS)
def test_the_cell_holds(make, app, route, column):
    world = World(make, route.given)
    user = world.caller(column)
    expected = route.expect[column]

    response, flashes = send(app, route, user, world.ids)
    try:
        assert response.status_code == expected, _show(response)
        if expected == 302 and user is None and route.endpoint not in NO_SIGN_IN:
            assert response.headers["Location"].startswith("/login"), _show(response)
        errors = [text for category, text in flashes if category == "error"]
        assert not errors, f"the form redirected with a refusal: {errors}"
    finally:
        response.close()  # file downloads hold their file open until closed
