"""Hostile text in every text field of every write endpoint: refused or kept, never a 5xx.

For each write operation of the OpenAPI document there is a case below: who calls it, how to
make a fresh object for it to act on, a valid body, and the schema that parses the body. Every
string field of that schema (text, choices, patterns, dates, money, rates; nested lines too) is
filled with hostile strings, first a fixed list (control characters, unpaired surrogates, NUL,
bidi overrides, 100,000 characters, formula text), then Hypothesis's. Each answer must be below
500; a refusal must leave every row of every table as it was (nothing half-written); an
acceptance must hold no control character or surrogate in what it returns. Last, statements over
whatever was accepted must still finish — and do so over rows that hold such characters already
(written past the API, as an older version could have).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields
from openpyxl import load_workbook
from sqlalchemy import select, text

from exports.schemas import ExportCreateSchema
from exports.workbooks import cell_text
from grants import audit
from grants.audit import Action
from grants.comments.models import Comment
from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from grants.http.agreements.schemas import AgreementTransitionSchema
from grants.http.banking.schemas import BankAccountCreateSchema, BankAccountTransitionSchema
from grants.http.budget.schemas import BudgetPutSchema
from grants.http.cities.schemas import CityCreateSchema, TitleCreateSchema
from grants.http.comments.schemas import CommentCreateSchema
from grants.http.grant.schemas import GrantCreateSchema, GrantPatchSchema, GrantTransitionSchema
from grants.http.payouts.schemas import PayoutCreateSchema, PayoutTransitionSchema
from grants.http.rates.schemas import RatePutSchema
from grants.http.reports.schemas import (
    ReportCreateSchema,
    ReportPatchSchema,
    ReportTransitionSchema,
)
from grants.http.schemas import text_problem
from grants.http.users.schemas import TokenRequestSchema, UserCreateSchema, UserPatchSchema
from grants.reports.models import ExpenseLine
from tests.factories import PASSWORD, Caller, Factory
from tests.test_receipts import minimal_pdf

FIXED = [
    "",
    " ",
    "\x07",
    "bell\x07in the middle",
    "nul\x00byte",
    "\x00",
    "lone \ud800 surrogate",
    "\udfff",
    "pair \U0001f600 ok",
    "\u202egnp.exe",
    "\u2066isolate\u2069",
    "esc \x1b[31m red",
    "c1 \x85 next line",
    "del \x7f",
    "line\nbreak",
    "cr\r\nlf",
    "tab\there",
    "\ufffe\uffff",
    "\u2028\u2029",
    '=HYPERLINK("http://example.invalid","x")',
    "@SUM(1+1)",
    "x" * 100_000,
    "é" * 1001,
    "Łódź – Tallinn – Kuressaare",
    "2027-W01-1",
    "20270110",
    "NaN",
    "9999999.99",
    "1e9",
]

#: Any code point, surrogates and controls included (Hypothesis leaves them out by default).
HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, exclude_categories=()),
        st.sampled_from(["\x00", "\x07", "\ud800", "\udfff", "\u202e", "\r", "\n", "\t"]),
    ),
    max_size=300,
) | st.sampled_from(FIXED)

STRING_FIELDS = (fields.String, fields.Date)


def string_paths(schema: Schema, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths in ``body`` of every field the schema reads from a JSON string."""
    paths: list[tuple[Any, ...]] = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if isinstance(field, fields.Nested):
            inner = body.get(key)
            if isinstance(inner, dict):
                paths += [(key, *p) for p in string_paths(field.schema, inner)]
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            items = body.get(key)
            if items:
                paths += [(key, 0, *p) for p in string_paths(field.inner.schema, items[0])]
        elif isinstance(field, STRING_FIELDS) or {"type", "pattern"} & set(field.metadata):
            paths.append((key,))
    return paths


def put_at(body: dict[str, Any], path: tuple[Any, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def fingerprint() -> str:
    """Every row of every table, hashed: equal before and after a refusal."""
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        if table.name == "signin_lockouts":  # a refused sign-in counts a failure: by design
            continue
        for row in db.session.execute(select(table).order_by(*table.primary_key.columns)):
            for value in row:
                # Stored files (an agreement's PDF) hashed as they are: repr of each is slow.
                if isinstance(value, bytes):
                    digest.update(value)
                else:
                    digest.update(repr(value).encode("utf-8", "surrogatepass"))
                digest.update(b"\x1f")
    db.session.rollback()
    return digest.hexdigest()


def no_bad_text(value: Any) -> bool:
    if isinstance(value, str):
        return text_problem(value, multiline=True) is None
    if isinstance(value, dict):
        return all(no_bad_text(k) and no_bad_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(no_bad_text(v) for v in value)
    return True


LV_IBAN = "LV80BANK0000435195001"
_seq = itertools.count(1)


@dataclass
class World:
    make: Factory
    city: Any
    member: Caller
    a: Caller
    b: Caller
    admin: Caller
    auditor: Caller
    anonymous: Any

    def grant(self, state: str, **kw: Any) -> int:
        return self.make.grant(self.city, state=state, author=self.member.user, **kw).id

    def report(self, state: str = "draft") -> tuple[int, int]:
        gid = self.grant("disbursed")
        r = self.member.post(f"/grants/{gid}/reports", report_body())
        assert r.status_code == 201, r.get_json()
        rid = r.get_json()["id"]
        if state == "submitted":
            r = self.member.post(f"/reports/{rid}/transitions", {"event": "submit"})
            assert r.status_code == 200, r.get_json()
        return rid, r.get_json()["expenses"][0]["id"]

    def payout(self) -> int:
        gid = self.grant("approved")
        r = self.a.post(f"/grants/{gid}/disbursements", {"kind": "advance"})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]


def grant_body() -> dict[str, Any]:
    return {
        "title": "Harbour stories",
        "summary": "Stories of the harbour.\nTold by its people.",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=60)).isoformat(),
        "budget_lines": [{"category": "fees", "description": "Fees", "amount": "100.00"}],
    }


def report_body() -> dict[str, Any]:
    return {
        "kind": "interim",
        "narrative": {key: "Workshops" for key in ("activities", "participants", "trust")},
        "expenses": [
            {
                "invoice_number": "I-1",
                "invoice_date": today().isoformat(),
                "payment_date": today().isoformat(),
                "supplier": "Harbour Ltd",
                "description": "Hall rent",
                "category": "services",
                "currency": "EUR",
                "amount": "50.00",
                "vat_amount": "0.00",
                "vat_recoverable": False,
            }
        ],
    }


@dataclass
class Case:
    method: str
    template: str
    schema: type[Schema]
    #: (caller, path, valid body) for one fresh request
    prepare: Callable[[World], tuple[Any, str, dict[str, Any]]]


def _user_body(w: World) -> tuple[Any, str, dict[str, Any]]:
    body = {"email": f"new{next(_seq)}@test.example", "password": PASSWORD, "role": "mentor"}
    return w.admin, "/users", body


def _user_patch(w: World) -> tuple[Any, str, dict[str, Any]]:
    user = w.make.user("mentor")
    return w.admin, f"/users/{user.id}", {"password": PASSWORD + "!", "role": "auditor"}


def _token(w: World) -> tuple[Any, str, dict[str, Any]]:
    return w.anonymous, "/auth/tokens", {"email": w.auditor.user.email, "password": PASSWORD}


def _title(w: World) -> tuple[Any, str, dict[str, Any]]:
    city = w.make.city(title=False)
    body = {"year": 2031, "valid_from": "2031-01-01", "valid_until": "2031-12-31", "cap": "10.00"}
    return w.admin, f"/cities/{city.id}/titles", body


def _rate(w: World) -> tuple[Any, str, dict[str, Any]]:
    month = f"20{30 + next(_seq) % 60}-0{1 + next(_seq) % 9}"
    return w.a, f"/exchange-rates/{month}/DKK", {"rate": "7.4604"}


def _budget(w: World) -> tuple[Any, str, dict[str, Any]]:
    return w.admin, f"/title-years/{2030 + next(_seq) % 60}/budget", {"budget": "60000.00"}


def _account(w: World) -> tuple[Any, str, dict[str, Any]]:
    body = {"holder": "Rūjienas novada pašvaldība", "iban": LV_IBAN, "bic": "HABALV22"}
    return w.member, f"/cities/{w.city.id}/bank-accounts", body


def _account_event(w: World) -> tuple[Any, str, dict[str, Any]]:
    city = w.make.city()  # a city of its own: one pending change per city
    account = w.make.bank_account(city, state="pending", iban=LV_IBAN)
    body = {"event": "reject", "comment": "The letter names another holder."}
    return w.a, f"/bank-accounts/{account.id}/transitions", body


def _adjust(w: World) -> tuple[Any, str, dict[str, Any]]:
    rid, line = w.report("submitted")
    body = {
        "event": "accept",
        "adjustments": [{"expense_id": line, "eligible_eur": "10.00", "reason": "Partly"}],
    }
    return w.a, f"/reports/{rid}/transitions", body


CASES = {
    "token": Case("POST", "/auth/tokens", TokenRequestSchema, _token),
    "user": Case("POST", "/users", UserCreateSchema, _user_body),
    "user-patch": Case("PATCH", "/users/{user_id}", UserPatchSchema, _user_patch),
    "city": Case(
        "POST",
        "/cities",
        CityCreateSchema,
        lambda w: (w.admin, "/cities", {"name": "Kuressaare", "country": "EE"}),
    ),
    "title": Case("POST", "/cities/{city_id}/titles", TitleCreateSchema, _title),
    "grant": Case(
        "POST", "/grants", GrantCreateSchema, lambda w: (w.member, "/grants", grant_body())
    ),
    "grant-patch": Case(
        "PATCH",
        "/grants/{grant_id}",
        GrantPatchSchema,
        lambda w: (w.member, f"/grants/{w.grant('draft')}", grant_body()),
    ),
    "grant-event": Case(
        "POST",
        "/grants/{grant_id}/transitions",
        GrantTransitionSchema,
        lambda w: (
            w.a,
            f"/grants/{w.grant('submitted')}/transitions",
            {"event": "request_changes", "comment": "Please add a line."},
        ),
    ),
    "comment": Case(
        "POST",
        "/grants/{grant_id}/comments",
        CommentCreateSchema,
        lambda w: (
            w.member,
            f"/grants/{w.grant('draft')}/comments",
            {"body": "Hello", "visibility": "shared"},
        ),
    ),
    "rate": Case("PUT", "/exchange-rates/{month}/{currency}", RatePutSchema, _rate),
    "budget": Case("PUT", "/title-years/{year}/budget", BudgetPutSchema, _budget),
    "agreement-sign": Case(
        "POST",
        "/grants/{grant_id}/agreement/transitions",
        AgreementTransitionSchema,
        lambda w: (
            w.member,
            f"/grants/{w.grant('approved', agreement='awaiting_city')}/agreement/transitions",
            {"event": "sign", "signatory_name": "Agnieszka Wójcik"},
        ),
    ),
    "payout": Case(
        "POST",
        "/grants/{grant_id}/disbursements",
        PayoutCreateSchema,
        lambda w: (w.a, f"/grants/{w.grant('approved')}/disbursements", {"kind": "advance"}),
    ),
    "payout-confirm": Case(
        "POST",
        "/disbursements/{payout_id}/transitions",
        PayoutTransitionSchema,
        lambda w: (
            w.b,
            f"/disbursements/{w.payout()}/transitions",
            {"event": "confirm_paid", "paid_on": today().isoformat(), "payment_reference": "R1"},
        ),
    ),
    "payout-cancel": Case(
        "POST",
        "/disbursements/{payout_id}/transitions",
        PayoutTransitionSchema,
        lambda w: (
            w.b,
            f"/disbursements/{w.payout()}/transitions",
            {"event": "cancel", "comment": "Wrong account"},
        ),
    ),
    "report": Case(
        "POST",
        "/grants/{grant_id}/reports",
        ReportCreateSchema,
        lambda w: (w.member, f"/grants/{w.grant('disbursed')}/reports", report_body()),
    ),
    "report-patch": Case(
        "PATCH",
        "/reports/{report_id}",
        ReportPatchSchema,
        lambda w: (w.member, f"/reports/{w.report()[0]}", report_body() | {"kind": None}),
    ),
    "report-return": Case(
        "POST",
        "/reports/{report_id}/transitions",
        ReportTransitionSchema,
        lambda w: (
            w.a,
            f"/reports/{w.report('submitted')[0]}/transitions",
            {"event": "return", "comment": "The invoice is missing."},
        ),
    ),
    "report-adjust": Case(
        "POST", "/reports/{report_id}/transitions", ReportTransitionSchema, _adjust
    ),
    "bank-account": Case(
        "POST", "/cities/{city_id}/bank-accounts", BankAccountCreateSchema, _account
    ),
    "bank-account-event": Case(
        "POST",
        "/bank-accounts/{account_id}/transitions",
        BankAccountTransitionSchema,
        _account_event,
    ),
    "export": Case(
        "POST",
        "/exports",
        ExportCreateSchema,
        lambda w: (w.auditor, "/exports", {"kind": "programme_statement", "title_year": 2031}),
    ),
}
#: Not JSON: the attachment's text is its file name, tested in its own test below.
MULTIPART = {("POST", "/api/v1/reports/{report_id}/attachments")}


@pytest.fixture
def world(make: Factory, client: Any) -> World:
    # Seed money enough for every example's approved grant (the cap is tested elsewhere).
    city = make.city(valid_from=today() - dt.timedelta(days=30), cap=10**12)
    return World(
        make,
        city,
        make.as_role("city_member", city=city),
        make.as_role("finance_officer"),
        make.as_role("finance_officer"),
        make.as_role("admin"),
        make.as_role("auditor"),
        client,
    )


def send(world: World, caller: Any, method: str, path: str, body: Any) -> Any:
    if caller is world.anonymous:
        return caller.open(f"/api/v1{path}", method=method, json=body)
    return caller.call(method, path, body)


def check_one(world: World, case: Case, path_in_body: tuple[Any, ...], value: str) -> None:
    caller, path, body = case.prepare(world)
    if "kind" in body and body["kind"] is None:
        body = {k: v for k, v in body.items() if k != "kind"}
    hostile = put_at(body, path_in_body, value)
    before = fingerprint()
    r = send(world, caller, case.method, path, hostile)
    where = f"{case.method} {path} {path_in_body}={value[:40]!r}"
    assert r.status_code < 500, f"{where}: {r.status_code} {r.get_data(as_text=True)[:300]}"
    payload = r.get_json(silent=True)
    if r.status_code >= 400:
        assert payload and payload["code"] == r.status_code and "message" in payload, where
        assert fingerprint() == before, f"{where}: refused ({r.status_code}) but wrote something"
    else:
        assert no_bad_text(payload), f"{where}: accepted text holds a control character"


def test_every_write_operation_of_the_document_has_a_case(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    writes = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch") and "requestBody" in operation
    }
    covered = {(c.method, f"/api/v1{c.template}") for c in CASES.values()}
    assert writes - MULTIPART == covered


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_strings_in_every_field_never_break_anything(world: World, name: str):
    case = CASES[name]
    _, _, body = case.prepare(world)
    body = {k: v for k, v in body.items() if v is not None}
    paths = string_paths(case.schema(), body)
    assert paths, f"{name}: no string field found"
    for path in paths:
        for value in FIXED:
            check_one(world, case, path, value)

    @given(path=st.sampled_from(paths), value=HOSTILE)
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(path: tuple[Any, ...], value: str) -> None:
        check_one(world, case, path, value)

    fuzz()
    statements_finish(world)


#: A multipart body is bytes: a lone surrogate cannot be sent in one (it is no UTF-8).
ENCODABLE = [v for v in FIXED[:20] if not any("\ud800" <= c <= "\udfff" for c in v)]


@pytest.mark.parametrize("value", ENCODABLE)
def test_a_hostile_file_name_is_cleaned_or_refused(world: World, value: str):
    rid, _ = world.report()
    before = fingerprint()
    r = world.member.post(
        f"/reports/{rid}/attachments",
        data={"file": (BytesIO(minimal_pdf()), value + ".pdf")},
        content_type="multipart/form-data",
    )
    assert r.status_code < 500, r.get_data(as_text=True)
    if r.status_code >= 400:
        assert fingerprint() == before
        return
    stored = r.get_json()
    assert no_bad_text(stored) and "\u202e" not in stored["file_name"]
    got = world.member.get(f"/attachments/{stored['id']}")
    assert got.status_code == 200
    assert "\r" not in got.headers["Content-Disposition"]
    assert "\n" not in got.headers["Content-Disposition"]


def statements_finish(world: World) -> None:
    """Every kind of statement over the title year finishes and opens."""
    year = world.city.titles[0].year
    grant_id = db.session.scalar(select(Grant.id).order_by(Grant.id.desc()).limit(1))
    grant_id = grant_id or world.grant("draft")
    bodies = [
        {"kind": "programme_statement", "title_year": year},
        {"kind": "city_statement", "city_id": world.city.id, "title_year": year},
        {"kind": "grant_statement", "grant_id": grant_id},
    ]
    for body in bodies:
        r = world.auditor.post("/exports", body)
        assert r.status_code == 202, r.get_json()
        status = world.auditor.get(f"/exports/{r.get_json()['id']}").get_json()
        assert status["status"] == "finished", status
        f = world.auditor.get(f"/exports/{status['id']}/file")
        assert f.status_code == 200
        load_workbook(BytesIO(f.data), read_only=True).close()


def stored_controls(is_postgres: bool) -> Iterator[str]:
    yield "bell\x07"
    yield "esc\x1b[0m"
    yield "vt\x0bff\x0c"
    if not is_postgres:  # PostgreSQL cannot store NUL in text at all
        yield "nul\x00"


def test_statements_finish_over_rows_that_already_hold_control_characters(
    world: World, is_postgres: bool
):
    """Rows written past the API (an older version, a script): the statements still finish."""
    nasty = "|".join(stored_controls(is_postgres))
    world.city.name = "City " + nasty
    gid = world.grant("draft")
    grant = db.session.get(Grant, gid)
    grant.title = "Title " + nasty
    grant.summary = "Summary " + nasty
    grant.budget_lines[0].description = "Line " + nasty
    db.session.add(
        Comment(
            grant_id=gid,
            author_id=world.member.user.id,
            body="Comment " + nasty,
            visibility="shared",
        )
    )
    audit.log(
        Action.COMMENT,
        grant,
        actor=world.member.user,
        comment="Audit " + nasty,
        data={"note": nasty},
    )
    db.session.commit()
    _, line_id = world.report()
    line = db.session.get(ExpenseLine, line_id)
    line.supplier = "Supplier " + nasty
    db.session.commit()

    statements_finish(world)
    r = world.auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})
    status = world.auditor.get(f"/exports/{r.get_json()['id']}").get_json()
    data = world.auditor.get(f"/exports/{status['id']}/file").data
    book = load_workbook(BytesIO(data), read_only=True)
    cells = [
        str(c) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row
    ]
    assert cell_text("Title " + nasty) in cells  # kept, with U+FFFD for what XML cannot hold
    assert "\ufffd" in cell_text("Title " + nasty)
    assert db.session.execute(text("SELECT count(*) FROM grants")).scalar() >= 1


def test_a_right_to_left_override_in_a_title_ends_with_the_title_on_the_pages(
    world: World, app: Any
):
    """Accepted text (api.md) that could reverse the rest of a line is closed where it ends."""
    from grants.users.credentials import open_page_session

    gid = world.grant("draft")
    title = "Choir \u202e2024 budget: 0005 EUR"
    r = world.member.patch(f"/grants/{gid}", {"title": title})
    assert r.status_code == 200 and r.get_json()["title"] == title  # the API keeps it as sent
    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"] = world.member.user.id
        session["sid"] = open_page_session(world.member.user)
    db.session.commit()
    for page in ("/grants", f"/grants/{gid}"):
        html = client.get(page).get_data(as_text=True)
        assert title + "\u202c" in html, page
        assert html.count("\u202e") == html.count(title + "\u202c"), page
