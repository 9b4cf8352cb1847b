"""Integrity warnings of expense lines (domain.md, "Control of expenses"; api.md: every expense
line as returned adds ``warnings:[{kind, other_expense_id?}]``, the other line for staff only).

Two cities file reports; what each city reads, and what finance reads, is checked as they would
read it: the warnings of a line, never hiding or refusing it; a city never sees another city's
expense id."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from grants.audit import AuditEvent
from grants.db import today
from grants.extensions import db
from grants.reports.integrity import LineFacts, line_warnings, normalise
from grants.reports.models import ExpenseLine
from tests.factories import Factory
from tests.money_helpers import (
    Pilot,
    disbursed_grant,
    expense,
    new_report,
    refused,
    report_event,
)
from tests.test_receipts import minimal_pdf, upload


@pytest.fixture
def two(make: Factory) -> tuple[Pilot, Pilot]:
    """Two disbursed pilots of two cities (officers ``a`` and ``b`` of each see both)."""
    return disbursed_grant(make), disbursed_grant(make)


def line(**fields: Any) -> dict[str, Any]:
    return {**expense("X-1"), **fields}


def kinds(report: dict[str, Any]) -> list[list[str]]:
    return [[w["kind"] for w in e["warnings"]] for e in report["expenses"]]


def read(caller: Any, rid: int) -> dict[str, Any]:
    r = caller.get(f"/reports/{rid}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def no_other_ids(body: dict[str, Any], foreign_ids: list[int]) -> None:
    """No warning of a city's answer names another line (nor any foreign id anywhere)."""
    for e in body["expenses"]:
        for w in e["warnings"]:
            assert set(w) == {"kind"}, w
    raw = json.dumps(body)
    for other in foreign_ids:
        assert f'"other_expense_id": {other}' not in raw
        assert f'"id": {other},' not in raw


# ---------------------------------------------------------------------------------------------
# The kinds


def test_the_same_invoice_of_one_supplier_spelt_otherwise_in_another_city(two):
    one, other = two
    first = new_report(
        one.member,
        one.id,
        "interim",
        [line(supplier="Hotel Svendborg A/S", invoice_number="INV-2026/001", amount="480.00")],
    )
    assert kinds(first) == [[]]
    second = new_report(
        other.member,
        other.id,
        "interim",
        [
            line(supplier="hotel  svendborg a.s.", invoice_number="inv 2026 001", amount="12.00"),
            line(supplier="Hotel Svendborg A/S", invoice_number="INV-2026/002", amount="13.00"),
        ],
    )
    # The city reads that its first line collides, never with which line.
    assert kinds(second) == [["same_invoice"], []]
    no_other_ids(second, [first["expenses"][0]["id"]])
    # Finance reads the other line, both ways.
    seen = read(other.a, second["id"])
    assert seen["expenses"][0]["warnings"] == [
        {"kind": "same_invoice", "other_expense_id": first["expenses"][0]["id"]}
    ]
    back = read(one.a, first["id"])["expenses"][0]["warnings"]
    assert back == [{"kind": "same_invoice", "other_expense_id": second["expenses"][0]["id"]}]
    # And the first city now reads the warning on its own line too.
    assert kinds(read(one.member, first["id"])) == [["same_invoice"]]


def test_the_same_supplier_date_and_amount_under_another_invoice_number(two):
    one, other = two
    day = today() - dt.timedelta(days=2)
    first = new_report(
        one.member,
        one.id,
        "interim",
        [line(supplier="Printer Oy", invoice_number="A-1", amount="250.00", invoice_date=str(day))],
    )
    second = new_report(
        other.member,
        other.id,
        "interim",
        [
            line(
                supplier="PRINTER OY", invoice_number="B-77", amount="250.00", invoice_date=str(day)
            ),
            # Another amount, another day, another currency: no warning.
            line(
                supplier="Printer Oy", invoice_number="B-78", amount="250.01", invoice_date=str(day)
            ),
            line(
                supplier="Printer Oy",
                invoice_number="B-79",
                amount="250.00",
                invoice_date=str(day - dt.timedelta(days=1)),
            ),
            line(
                supplier="Printer Oy",
                invoice_number="B-80",
                amount="250.00",
                currency="SEK",
                invoice_date=str(day),
            ),
        ],
    )
    assert kinds(second) == [["same_supplier_date_amount"], [], [], []]
    staff = read(one.b, second["id"])["expenses"][0]["warnings"]
    assert staff == [
        {"kind": "same_supplier_date_amount", "other_expense_id": first["expenses"][0]["id"]}
    ]


def test_the_same_receipt_file_on_lines_of_two_reports_of_two_cities(two):
    one, other = two
    first = new_report(one.member, one.id, "interim", [line(invoice_number="R-1")])
    second = new_report(
        other.member,
        other.id,
        "interim",
        [line(invoice_number="R-2", supplier="Bakery"), line(invoice_number="R-3", supplier="Ink")],
    )
    scan = minimal_pdf("Invoice R-1, Harbour Hall")
    first_line = first["expenses"][0]["id"]
    assert upload(one.member, first["id"], scan, expense_id=first_line).status_code == 201
    assert kinds(read(one.member, first["id"])) == [[]]  # one file on one line: nothing
    second_line = second["expenses"][0]["id"]
    r = upload(other.member, second["id"], scan, "same.pdf", expense_id=second_line)
    assert r.status_code == 201, r.get_json()  # a warning never refuses
    # Another file on the other line: no warning there.
    assert (
        upload(
            other.member, second["id"], minimal_pdf("Ink"), expense_id=second["expenses"][1]["id"]
        ).status_code
        == 201
    )

    city = read(other.member, second["id"])
    assert kinds(city) == [["same_receipt"], []]
    no_other_ids(city, [first_line])
    assert read(other.a, second["id"])["expenses"][0]["warnings"] == [
        {"kind": "same_receipt", "other_expense_id": first_line}
    ]
    assert kinds(read(one.member, first["id"])) == [["same_receipt"]]


def test_staff_roles_see_the_other_line_mentors_and_cities_do_not(make, two):
    one, other = two
    first = new_report(one.member, one.id, "interim", [line(invoice_number="S-1")])
    second = new_report(
        other.member, other.id, "interim", [line(invoice_number="S-1", amount="99.00")]
    )
    mine = first["expenses"][0]["id"]
    for role in ("finance_officer", "auditor", "admin"):
        seen = read(make.as_role(role), second["id"])["expenses"][0]["warnings"]
        assert seen == [{"kind": "same_invoice", "other_expense_id": mine}], role
    mentor = make.as_role("mentor", mentor_of=(other.city,))
    no_other_ids(read(mentor, second["id"]), [mine])
    no_other_ids(read(other.member, second["id"]), [mine])


def test_a_line_dated_outside_the_pilot_is_warned_and_kept(two):
    one, _ = two
    before = one.start - dt.timedelta(days=3)
    report = new_report(
        one.member,
        one.id,
        "interim",
        [line(invoice_date=str(before), payment_date=str(before)), line(invoice_number="X-2")],
    )
    assert kinds(report) == [["outside_period"], []]
    assert report["expenses"][0]["outside_period"] is True


def test_lines_of_one_report_warn_each_other(two):
    one, _ = two
    report = new_report(
        one.member,
        one.id,
        "interim",
        [line(invoice_number="D 1"), line(invoice_number="d-1", amount="100.00")],
    )
    assert kinds(report) == [
        ["same_invoice", "same_supplier_date_amount"],
        ["same_invoice", "same_supplier_date_amount"],
    ]
    staff = read(one.a, report["id"])["expenses"]
    assert staff[0]["warnings"][0]["other_expense_id"] == staff[1]["id"]
    assert staff[1]["warnings"][0]["other_expense_id"] == staff[0]["id"]


# ---------------------------------------------------------------------------------------------
# A warning never refuses; a future date does


def test_a_report_with_warnings_is_submitted_whole_and_its_audit_counts_them(two):
    one, other = two
    new_report(one.member, one.id, "interim", [line(invoice_number="W-1", amount="300.00")])
    report = new_report(
        other.member,
        other.id,
        "interim",
        [line(invoice_number="W-1", amount="300.00"), line(invoice_number="W-2", amount="45.50")],
    )
    r = report_event(other.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    submitted = r.get_json()
    assert submitted["total_eur"] == "345.50"  # every line kept and counted, to the cent
    assert kinds(submitted) == [["same_invoice", "same_supplier_date_amount"], []]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report_submit").order_by(AuditEvent.id)
    ).all()[-1]
    assert event.data["warnings"] == {"same_invoice": 1, "same_supplier_date_amount": 1}
    # The history the city reads names no other line.
    history = json.dumps(other.history(other.member))
    assert "other_expense_id" not in history


def test_an_invoice_or_payment_date_in_the_future_is_refused_and_nothing_is_filed(two):
    one, _ = two
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    r = one.member.post(
        f"/grants/{one.id}/reports",
        {
            "kind": "interim",
            "expenses": [
                line(invoice_date=tomorrow, payment_date=None),
                line(invoice_number="F-2", payment_date=tomorrow),
            ],
        },
    )
    body = refused(r, 422)
    errors = body["errors"]["json"]["expenses"]
    assert errors["0"] == {"invoice_date": ["An invoice date cannot lie in the future."]}
    assert errors["1"] == {"payment_date": ["A payment date cannot lie in the future."]}
    assert one.member.get(f"/grants/{one.id}/reports").get_json() == []
    # Today is not the future.
    ok = new_report(one.member, one.id, "interim", [line(invoice_date=today().isoformat())])
    assert ok["expenses"][0]["invoice_date"] == today().isoformat()
    r = one.member.patch(f"/reports/{ok['id']}", {"expenses": [line(invoice_date=tomorrow)]})
    refused(r, 422)
    assert read(one.member, ok["id"])["expenses"][0]["invoice_date"] == today().isoformat()


# ---------------------------------------------------------------------------------------------
# The keys and the indexes


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("INV-2026/001", "inv 2026 001"),
        ("Hotel Svendborg A/S", "hotel svendborg a.s."),
        ("Ｎｏ.１２", "no 12"),  # full-width forms (NFKC)
        ("Straße", "STRASSE"),  # case folding
        ("Łódź Café", "łódź-café"),  # letters of every script are kept
    ],
)
def test_normalised_keys_ignore_case_spaces_and_punctuation(a, b):
    assert normalise(a) == normalise(b)
    assert normalise(a)


def test_different_invoice_numbers_keep_different_keys():
    assert normalise("INV-1") != normalise("INV-11")
    assert normalise("Łódź") != normalise("Lodz")


def test_the_keys_are_stored_with_the_line_and_indexed(two):
    one, _ = two
    new_report(one.member, one.id, "interim", [line(supplier="Ink & Co.", invoice_number="Nr. 7")])
    stored = db.session.scalars(select(ExpenseLine)).all()[-1]
    assert (stored.supplier_key, stored.invoice_key) == ("inkco", "nr7")
    indexes = {
        table: {
            ix["name"]: ix["column_names"]
            for ix in inspect(db.session.connection()).get_indexes(table)
        }
        for table in ("expense_lines", "attachments")
    }
    assert indexes["expense_lines"]["ix_expense_lines_invoice_key"] == [
        "supplier_key",
        "invoice_key",
    ]
    assert indexes["expense_lines"]["ix_expense_lines_supplier_date_amount"] == [
        "supplier_key",
        "invoice_date",
        "amount_cents",
    ]
    assert indexes["attachments"]["ix_attachments_sha256"] == ["sha256"]


def test_the_lookups_use_their_indexes(two):
    one, _ = two
    report = new_report(one.member, one.id, "interim", [line()])
    facts = LineFacts(
        supplier="Supplier X-1",
        invoice_number="X-1",
        invoice_date=today(),
        currency="EUR",
        amount_cents=10_000,
        sha256s=frozenset({"0" * 64}),
    )
    grant = db.session.get(ExpenseLine, report["expenses"][0]["id"]).report.grant
    assert [w.kind for w in line_warnings(facts, grant)] == [
        "same_invoice",
        "same_supplier_date_amount",
    ]
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN here; bench/integrity.py reads PostgreSQL's")
    plans = {
        "ix_expense_lines_invoice_key": "SELECT id FROM expense_lines "
        "WHERE supplier_key = 'supplierx1' AND invoice_key = 'x1'",
        "ix_expense_lines_supplier_date_amount": "SELECT id FROM expense_lines WHERE "
        "supplier_key = 'supplierx1' AND invoice_date = '2026-01-01' AND amount_cents = 10000",
        "ix_attachments_sha256": "SELECT expense_id FROM attachments WHERE sha256 = 'x'",
    }
    for index, sql in plans.items():
        plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert f"INDEX {index}" in plan, plan
