"""Reports and expenses (domain.md, "Reports and expenses"): filing, conversion at submit with the
rate frozen on the line, rounding half up, eligible EUR, return and resubmit, adjustments, and the
grant events that an accepted report fires."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from grants.db import today
from grants.extensions import db
from grants.reports.models import ExpenseLine, Report
from tests.factories import Factory
from tests.money_helpers import (
    COMMENT,
    Pilot,
    approved_grant,
    disbursed_grant,
    expense,
    file_report,
    new_report,
    refused,
    report_event,
    set_rate,
)


def read(pilot: Pilot, rid: int, caller: Any = None) -> dict[str, Any]:
    r = (caller or pilot.member).get(f"/reports/{rid}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def eur_figures(report: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    return [(e["rate"], e["amount_eur"], e["eligible_eur"]) for e in report["expenses"]]


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


# ---------------------------------------------------------------------------------------------
# Conversion at submit


def test_a_missing_rate_refuses_the_submission_and_the_report_stays_draft(pilot: Pilot):
    set_rate(pilot.a, "SEK", "11.0000")
    set_rate(pilot.a, "DKK", "7.4604", when="2000-01")  # another month's rate does not count
    report = new_report(
        pilot.member,
        pilot.id,
        "interim",
        [
            expense("I-1", "EUR", "100.00"),
            expense("I-2", "SEK", "550.00"),
            expense("I-3", "DKK", "746.04"),
        ],
    )
    body = refused(report_event(pilot.member, report["id"], "submit"), 409, "rate_missing")
    assert "DKK" in body["message"]
    after = read(pilot, report["id"])
    assert after["state"] == "draft"
    assert after["submitted_at"] is None
    assert after["total_eur"] is None
    # All or nothing: not even the EUR and SEK lines were converted.
    assert eur_figures(after) == [(None, None, None)] * 3
    assert pilot.get()["reported_eur"] == "0.00"
    assert "report_submit" not in pilot.actions()

    set_rate(pilot.a, "DKK", "7.4604")
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert eur_figures(r.get_json()) == [
        ("1.0000", "100.00", "100.00"),
        ("11.0000", "50.00", "50.00"),
        ("7.4604", "100.00", "100.00"),
    ]


def test_the_rate_is_frozen_on_the_line_at_submit(pilot: Pilot):
    set_rate(pilot.a, "DKK", "7.4604")
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "DKK", "7460.40")])
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert eur_figures(r.get_json()) == [("7.4604", "1000.00", "1000.00")]

    set_rate(pilot.a, "DKK", "8.000000")
    assert eur_figures(read(pilot, report["id"])) == [("7.4604", "1000.00", "1000.00")]
    accepted = report_event(pilot.a, report["id"], "accept")
    assert accepted.status_code == 200, accepted.get_json()
    assert eur_figures(accepted.get_json()) == [("7.4604", "1000.00", "1000.00")]
    grant = pilot.get()
    assert (grant["reported_eur"], grant["eligible_eur"]) == ("1000.00", "1000.00")


def test_a_returned_report_is_converted_again_with_the_rate_of_its_new_submission(pilot: Pilot):
    set_rate(pilot.a, "DKK", "7.4604")
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "DKK", "7460.40")])
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    assert report_event(pilot.a, report["id"], "return", comment=COMMENT).status_code == 200
    set_rate(pilot.a, "DKK", "8.000000")
    r = report_event(pilot.member, report["id"], "submit")
    assert eur_figures(r.get_json()) == [("8.0000", "932.55", "932.55")]


def test_amounts_are_rounded_half_up_to_the_cent(pilot: Pilot):
    set_rate(pilot.a, "PLN", "3.000000")
    set_rate(pilot.a, "SEK", "2")
    lines = [
        expense("P-1", "PLN", "100.00"),  # 33.333… → 33.33
        expense("P-2", "PLN", "200.00"),  # 66.666… → 66.67
        expense("S-1", "SEK", "0.05"),  # 0.025 → 0.03 (half up, not half even)
        expense("S-2", "SEK", "0.01"),  # 0.005 → 0.01
        expense("S-3", "SEK", "0.03"),  # 0.015 → 0.02
        expense("S-4", "SEK", "0.09"),  # 0.045 → 0.05
    ]
    report = new_report(pilot.member, pilot.id, "interim", lines)
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    submitted = r.get_json()
    assert [e["amount_eur"] for e in submitted["expenses"]] == [
        "33.33",
        "66.67",
        "0.03",
        "0.01",
        "0.02",
        "0.05",
    ]
    assert [e["rate"] for e in submitted["expenses"]] == ["3.0000"] * 2 + ["2.0000"] * 4
    # The total is the sum of the rounded lines, not the rounded sum.
    assert submitted["total_eur"] == "100.11"
    assert pilot.get()["reported_eur"] == "100.11"


def test_eligible_is_eur_less_recoverable_vat(pilot: Pilot):
    set_rate(pilot.a, "DKK", "7.4604")
    lines = [
        expense("V-1", "EUR", "300.00", vat="60.00", recoverable=True),
        expense("V-2", "EUR", "300.00", vat="60.00", recoverable=False),
        expense("V-3", "DKK", "746.04", vat="149.21", recoverable=True),  # VAT 20.0002 → 20.00
        expense("V-4", "DKK", "746.04", vat="149.21", recoverable=False),
        expense("V-5", "EUR", "50.00", vat="50.00", recoverable=True),  # all VAT: nothing left
    ]
    report = new_report(pilot.member, pilot.id, "interim", lines)
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    submitted = r.get_json()
    assert [(e["amount_eur"], e["eligible_eur"]) for e in submitted["expenses"]] == [
        ("300.00", "240.00"),
        ("300.00", "300.00"),
        ("100.00", "80.00"),
        ("100.00", "100.00"),
        ("50.00", "0.00"),
    ]
    assert (submitted["total_eur"], submitted["eligible_eur"]) == ("850.00", "720.00")
    # Only an accepted report counts as eligible for the grant.
    assert (pilot.get()["reported_eur"], pilot.get()["eligible_eur"]) == ("850.00", "0.00")
    assert report_event(pilot.a, report["id"], "accept").status_code == 200
    assert pilot.get()["eligible_eur"] == "720.00"


def test_a_line_outside_the_pilot_period_is_accepted_and_flagged(pilot: Pilot):
    before = pilot.start - dt.timedelta(days=1)
    lines = [
        expense("O-1", "EUR", "100.00", day=pilot.start),
        expense("O-2", "EUR", "200.00", day=before),
        {**expense("O-3", "EUR", "300.00", day=before), "payment_date": None},
        {**expense("O-4", "EUR", "400.00", day=pilot.start), "payment_date": None},
    ]  # (dates after the pilot lie in the future here, refused: tests/test_expense_integrity.py)
    report = new_report(pilot.member, pilot.id, "interim", lines)
    assert [e["outside_period"] for e in report["expenses"]] == [False, True, True, False]
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    accepted = report_event(pilot.a, report["id"], "accept").get_json()
    assert accepted["state"] == "accepted"
    assert [e["outside_period"] for e in accepted["expenses"]] == [False, True, True, False]
    assert accepted["eligible_eur"] == "1000.00"  # flagged, not refused: the officer decides


# ---------------------------------------------------------------------------------------------
# Return, edit, resubmit


def test_return_needs_a_comment_then_the_city_edits_and_resubmits(pilot: Pilot):
    report = new_report(pilot.member, pilot.id, "interim", [expense("R-1", "EUR", "500.00")])
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    for comment in (None, "", "  "):
        body = {} if comment is None else {"comment": comment}
        r = report_event(pilot.a, report["id"], "return", **body)
        assert "comment" in refused(r, 422)["errors"]["json"]
    assert read(pilot, report["id"])["state"] == "submitted"

    r = report_event(pilot.a, report["id"], "return", comment="Receipt R-1 is missing.")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "returned"

    r = pilot.member.patch(
        f"/reports/{report['id']}",
        {
            "narrative": {"activities": "Workshops, corrected"},
            "expenses": [expense("R-1", "EUR", "450.00"), expense("R-2", "EUR", "25.50")],
        },
    )
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert edited["state"] == "returned"
    assert edited["narrative"]["activities"] == "Workshops, corrected"
    assert [e["amount"] for e in edited["expenses"]] == ["450.00", "25.50"]

    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "submitted"
    assert r.get_json()["total_eur"] == "475.50"
    r = report_event(pilot.a, report["id"], "accept")
    assert r.status_code == 200, r.get_json()
    assert pilot.get()["eligible_eur"] == "475.50"
    returned = [e for e in pilot.history() if e["action"] == "report_return"]
    assert [(e["actor"]["id"], e["comment"]) for e in returned] == [
        (pilot.a.user.id, "Receipt R-1 is missing.")
    ]
    assert pilot.actions().count("report_submit") == 2


@pytest.mark.parametrize("state", ["submitted", "accepted"])
def test_a_submitted_or_accepted_report_cannot_be_edited(pilot: Pilot, state: str):
    report = new_report(pilot.member, pilot.id, "interim", [expense("E-1", "EUR", "500.00")])
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    if state == "accepted":
        assert report_event(pilot.a, report["id"], "accept").status_code == 200
    r = pilot.member.patch(
        f"/reports/{report['id']}", {"expenses": [expense("E-1", "EUR", "5000.00")]}
    )
    refused(r, 409, "invalid_transition")
    after = read(pilot, report["id"])
    assert after["state"] == state
    assert [(e["amount"], e["amount_eur"]) for e in after["expenses"]] == [("500.00", "500.00")]


def test_a_draft_is_edited_and_its_lines_replaced(pilot: Pilot):
    report = new_report(pilot.member, pilot.id, "interim", [expense("D-1", "EUR", "500.00")])
    r = pilot.member.patch(f"/reports/{report['id']}", {"expenses": []})
    assert r.status_code == 200, r.get_json()
    assert read(pilot, report["id"])["expenses"] == []
    db.session.expire_all()
    assert (
        db.session.scalars(select(ExpenseLine).where(ExpenseLine.report_id == report["id"])).all()
        == []
    )


# ---------------------------------------------------------------------------------------------
# Adjustments


def submitted_report(pilot: Pilot) -> dict[str, Any]:
    lines = [
        expense("A-1", "EUR", "1000.00", vat="200.00", recoverable=True),  # eligible 800.00
        expense("A-2", "EUR", "300.00"),
    ]
    report = new_report(pilot.member, pilot.id, "interim", lines)
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.mark.parametrize("eligible", ["800.01", "1000.00", "9999999.99"])
def test_an_adjustment_above_the_lines_eligible_eur_is_422_and_changes_nothing(
    pilot: Pilot, eligible: str
):
    report = submitted_report(pilot)
    line = report["expenses"][0]
    fine = report["expenses"][1]
    r = report_event(
        pilot.a,
        report["id"],
        "accept",
        adjustments=[
            {"expense_id": fine["id"], "eligible_eur": "100.00", "reason": "Half of it"},
            {"expense_id": line["id"], "eligible_eur": eligible, "reason": "More than claimed"},
        ],
    )
    errors = refused(r, 422)["errors"]["json"]["adjustments"]
    assert list(errors) == ["1"]
    assert "800.00" in errors["1"]["eligible_eur"][0]
    after = read(pilot, report["id"])
    assert after["state"] == "submitted"
    assert [(e["eligible_eur"], e["ineligible_reason"]) for e in after["expenses"]] == [
        ("800.00", None),
        ("300.00", None),
    ]
    grant = pilot.get()
    assert (grant["state"], grant["eligible_eur"]) == ("disbursed", "0.00")
    assert "expense_adjusted" not in pilot.actions()


@pytest.mark.parametrize(
    "adjust",
    [
        {"expense_id": -1, "eligible_eur": "1.00", "reason": "Not a line of this report"},
        {"eligible_eur": "1.00", "reason": "No line"},
        {"expense_id": 0, "eligible_eur": "-1.00", "reason": "Negative"},
        {"expense_id": 0, "eligible_eur": 100, "reason": "A JSON number"},
        {"expense_id": 0, "eligible_eur": "100.00"},
        {"expense_id": 0, "eligible_eur": "100.00", "reason": ""},
    ],
)
def test_a_malformed_adjustment_is_422(pilot: Pilot, adjust: dict[str, Any]):
    report = submitted_report(pilot)
    if adjust.get("expense_id") == 0:
        adjust = {**adjust, "expense_id": report["expenses"][0]["id"]}
    refused(report_event(pilot.a, report["id"], "accept", adjustments=[adjust]), 422)
    assert read(pilot, report["id"])["state"] == "submitted"


def test_an_adjustment_may_make_a_line_wholly_or_partly_ineligible(pilot: Pilot):
    report = submitted_report(pilot)
    ids = [e["id"] for e in report["expenses"]]
    r = report_event(
        pilot.a,
        report["id"],
        "accept",
        adjustments=[
            {"expense_id": ids[0], "eligible_eur": "800.00", "reason": "Checked: all of it"},
            {"expense_id": ids[1], "eligible_eur": "0.00", "reason": "Not a pilot cost"},
        ],
    )
    assert r.status_code == 200, r.get_json()
    accepted = r.get_json()
    assert [
        (e["claimed_eligible_eur"], e["eligible_eur"], e["ineligible_reason"])
        for e in accepted["expenses"]
    ] == [("800.00", "800.00", "Checked: all of it"), ("300.00", "0.00", "Not a pilot cost")]
    assert accepted["eligible_eur"] == "800.00"
    assert pilot.get()["eligible_eur"] == "800.00"


# ---------------------------------------------------------------------------------------------
# When a report may be filed, and by whom


@pytest.mark.parametrize("kind", ["interim", "final"])
def test_no_report_before_the_grant_is_disbursed(make: Factory, kind: str):
    pilot = approved_grant(make)
    r = pilot.member.post(
        f"/grants/{pilot.id}/reports",
        {"kind": kind, "expenses": [expense("X-1", "EUR", "100.00")]},
    )
    refused(r, 409, "invalid_transition")
    assert pilot.member.get(f"/grants/{pilot.id}/reports").get_json() == []


def test_no_final_report_before_the_interim_is_accepted(pilot: Pilot):
    r = pilot.member.post(f"/grants/{pilot.id}/reports", {"kind": "final"})
    refused(r, 409, "invalid_transition")
    interim = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "EUR", "10.00")])
    assert report_event(pilot.member, interim["id"], "submit").status_code == 200
    refused(pilot.member.post(f"/grants/{pilot.id}/reports", {"kind": "final"}), 409)
    assert report_event(pilot.a, interim["id"], "accept").status_code == 200
    r = pilot.member.post(f"/grants/{pilot.id}/reports", {"kind": "final"})
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("first_state", ["draft", "submitted", "returned"])
def test_a_second_interim_report_is_refused(pilot: Pilot, first_state: str):
    first = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "EUR", "10.00")])
    if first_state != "draft":
        assert report_event(pilot.member, first["id"], "submit").status_code == 200
    if first_state == "returned":
        assert report_event(pilot.a, first["id"], "return", comment=COMMENT).status_code == 200
    r = pilot.member.post(f"/grants/{pilot.id}/reports", {"kind": "interim"})
    body = refused(r, 409, "invalid_transition")
    assert str(first["id"]) in body["message"]
    reports = pilot.member.get(f"/grants/{pilot.id}/reports").get_json()
    assert [(x["id"], x["state"]) for x in reports] == [(first["id"], first_state)]


@pytest.mark.parametrize("role", ["finance_officer", "mentor", "auditor", "admin"])
def test_only_the_city_files_reports(make: Factory, pilot: Pilot, role: str):
    caller = make.in_scope(role, pilot.city)
    r = caller.post(
        f"/grants/{pilot.id}/reports",
        {"kind": "interim", "expenses": [expense("I-1", "EUR", "10.00")]},
    )
    refused(r, 403)
    assert pilot.member.get(f"/grants/{pilot.id}/reports").get_json() == []


def test_a_member_of_another_city_gets_404(make: Factory, pilot: Pilot):
    stranger = make.as_role("city_member", city=make.city())
    r = stranger.post(f"/grants/{pilot.id}/reports", {"kind": "interim"})
    refused(r, 404)
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "EUR", "10.00")])
    refused(stranger.get(f"/reports/{report['id']}"), 404)
    refused(stranger.patch(f"/reports/{report['id']}", {"expenses": []}), 404)
    refused(report_event(stranger, report["id"], "submit"), 404)
    assert read(pilot, report["id"])["state"] == "draft"


@pytest.mark.parametrize(
    ("role", "event", "body"),
    [
        ("city_member", "accept", {}),
        ("city_member", "return", {"comment": COMMENT}),
        ("finance_officer", "submit", {}),
        ("auditor", "accept", {}),
        ("admin", "accept", {}),
        ("mentor", "return", {"comment": COMMENT}),
    ],
)
def test_each_report_event_belongs_to_its_role(
    make: Factory, pilot: Pilot, role: str, event: str, body: dict[str, Any]
):
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "EUR", "10.00")])
    if event != "submit":
        assert report_event(pilot.member, report["id"], "submit").status_code == 200
    caller = pilot.member if role == "city_member" else make.in_scope(role, pilot.city)
    refused(report_event(caller, report["id"], event, **body), 403)
    assert read(pilot, report["id"])["state"] == ("draft" if event == "submit" else "submitted")


# ---------------------------------------------------------------------------------------------
# What accepting fires


def test_accepting_the_interim_report_fires_interim_accepted(pilot: Pilot):
    set_rate(pilot.a, "DKK", "7.4604")
    lines = [expense("I-1", "DKK", "7460.40"), expense("I-2", "EUR", "250.00")]
    report = new_report(pilot.member, pilot.id, "interim", lines)
    submitted = report_event(pilot.member, report["id"], "submit").get_json()
    assert pilot.get()["reports_due"][0]["kind"] == "interim"
    r = report_event(
        pilot.a,
        report["id"],
        "accept",
        adjustments=[
            {
                "expense_id": submitted["expenses"][1]["id"],
                "eligible_eur": "200.00",
                "reason": "Catering is not eligible.",
            }
        ],
    )
    assert r.status_code == 200, r.get_json()
    grant = pilot.get()
    assert grant["state"] == "interim_reported"
    assert grant["eligible_eur"] == "1200.00"
    assert [d["kind"] for d in grant["reports_due"]] == ["final"]

    events = pilot.history()
    by_action = {e["action"]: e for e in events}
    actions = [e["action"] for e in events]
    for action in ("report_submit", "report_accept", "expense_adjusted", "interim_accepted"):
        assert actions.count(action) == 1, actions
    # The order a reader of the trail expects.
    order = [actions.index(a) for a in ("report_submit", "report_accept", "interim_accepted")]
    assert order == sorted(order)

    submit = by_action["report_submit"]
    assert submit["actor"]["id"] == pilot.member.user.id
    assert (submit["from_state"], submit["to_state"]) == ("draft", "submitted")
    assert submit["data"]["total_eur"] == "1250.00"

    accept = by_action["report_accept"]
    assert accept["actor"]["id"] == pilot.a.user.id
    assert (accept["from_state"], accept["to_state"]) == ("submitted", "accepted")
    assert accept["data"]["eligible_eur"] == "1200.00"

    adjusted = by_action["expense_adjusted"]
    assert adjusted["actor"]["id"] == pilot.a.user.id
    assert adjusted["comment"] == "Catering is not eligible."
    assert (adjusted["data"]["eligible_eur_before"], adjusted["data"]["eligible_eur"]) == (
        "250.00",
        "200.00",
    )

    fired = by_action["interim_accepted"]
    assert fired["actor"]["id"] == pilot.a.user.id
    assert fired["actor"]["role"] == "finance_officer"
    assert (fired["from_state"], fired["to_state"]) == ("disbursed", "interim_reported")
    assert fired["data"]["cause"] == "report_accept"
    assert fired["data"]["report_id"] == report["id"]


def test_accepting_the_final_report_fires_final_accepted(pilot: Pilot):
    file_report(pilot, "interim", [expense("I-1", "EUR", "1000.00")])
    final = file_report(pilot, "final", [expense("F-1", "EUR", "1500.00")])
    assert final["state"] == "accepted"
    grant = pilot.get()
    assert grant["state"] == "final_reported"
    assert grant["reports_due"] == []
    assert (grant["eligible_eur"], grant["balance_due"]) == ("2500.00", "500.00")
    fired = [e for e in pilot.history() if e["action"] == "final_accepted"]
    assert [(e["actor"]["id"], e["from_state"], e["to_state"]) for e in fired] == [
        (pilot.a.user.id, "interim_reported", "final_reported")
    ]


def test_a_report_of_a_terminated_grant_cannot_be_submitted(make: Factory, pilot: Pilot):
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "EUR", "10.00")])
    assert pilot.a.fire(pilot.id, "terminate", comment="The pilot stopped.").status_code == 200
    refused(report_event(pilot.member, report["id"], "submit"), 409, "invalid_transition")
    db.session.expire_all()
    stored = db.session.get(Report, report["id"])
    assert stored.state == "draft"
    assert [e.amount_eur_cents for e in stored.expenses] == [None]


def test_the_due_dates_follow_the_settings(make: Factory, pilot: Pilot):
    report = new_report(pilot.member, pilot.id, "interim", [])
    midpoint = pilot.start + dt.timedelta(days=(pilot.end - pilot.start).days // 2)
    assert report["due_on"] == midpoint.isoformat()
    assert report["due_on"] == next(
        d["due_on"] for d in pilot.get()["reports_due"] if d["kind"] == "interim"
    )
    assert today() <= midpoint
