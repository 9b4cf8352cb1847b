"""Requests that change nothing record nothing: a HEAD, and a PATCH without changes.

A HEAD only looks: the API's request boundary rolls back whatever its view wrote, and a
statement's download is audited for a GET only (API and pages). An empty PATCH of a grant or a
report (``{}``, or the values it already has) writes no audit event and leaves ``updated_at``
and the row's version alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import exports.api
from exports import jobs as export_jobs
from exports import services as export_services
from grants.audit import AuditEvent
from grants.extensions import db
from grants.grant.models import Grant
from grants.reports.models import Report
from tests.factories import PASSWORD, Caller, Factory
from tests.money_helpers import Pilot, disbursed_grant, expense, new_report


def downloads(export_id: int) -> int:
    db.session.rollback()  # read what the requests committed
    return len(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "export_downloaded", AuditEvent.subject_id == export_id
            )
        ).all()
    )


@pytest.fixture
def statement(make: Factory) -> tuple[Caller, int]:
    """An auditor and a finished grant statement."""
    city = make.city()
    grant = make.grant(city, state="approved")
    auditor = make.as_role("auditor")
    r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": grant.id})
    assert r.status_code == 202, r.get_json()
    export = auditor.get(f"/exports/{r.get_json()['id']}").get_json()
    assert export["status"] == "finished", export
    return auditor, export["id"]


def test_head_of_a_statement_file_records_no_download_get_records_one(statement) -> None:
    auditor, export_id = statement

    head = auditor.call("HEAD", f"/exports/{export_id}/file")

    assert head.status_code == 200
    assert head.data == b""
    assert "attachment" in head.headers["Content-Disposition"]
    assert downloads(export_id) == 0
    got = auditor.get(f"/exports/{export_id}/file")
    assert got.status_code == 200
    assert int(head.headers["Content-Length"]) == len(got.data) > 0
    assert downloads(export_id) == 1


def test_a_head_commits_nothing_even_when_its_view_writes(statement, monkeypatch) -> None:
    """The class fix: the API's request boundary rolls a HEAD back, whatever the view did."""
    auditor, export_id = statement
    monkeypatch.setattr(
        exports.api,
        "file_content",
        lambda export, actor: export_services.download(export, actor=actor),
    )

    assert auditor.call("HEAD", f"/exports/{export_id}/file").status_code == 200
    assert downloads(export_id) == 0
    assert auditor.get(f"/exports/{export_id}/file").status_code == 200
    assert downloads(export_id) == 1


def test_head_of_a_statement_page_download_records_nothing(app, statement) -> None:
    auditor, export_id = statement
    browser = app.test_client()
    login = browser.get("/login").text
    token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = browser.post(
        "/login", data={"email": auditor.user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 302, signed_in.text

    head = browser.head(f"/statements/{export_id}/file")

    assert head.status_code == 200
    assert downloads(export_id) == 0
    assert browser.get(f"/statements/{export_id}/file").status_code == 200
    assert downloads(export_id) == 1


def test_head_of_a_statement_not_finished_is_not_ready(make: Factory, monkeypatch) -> None:
    monkeypatch.setattr(export_jobs, "dispatch", lambda export_id: None)  # left queued
    auditor = make.as_role("auditor")
    grant = make.grant(make.city(), state="approved")
    r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": grant.id})
    export_id = r.get_json()["id"]

    head = auditor.call("HEAD", f"/exports/{export_id}/file")

    assert head.status_code == 409
    assert downloads(export_id) == 0


# ---------------------------------------------------------------------------------------------
# PATCH without changes


def grant_row(grant_id: int) -> tuple[Any, int]:
    db.session.rollback()
    row = db.session.get(Grant, grant_id, populate_existing=True)
    return row.updated_at, row.version


def events_of(grant_id: int) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.grant_id == grant_id).order_by(AuditEvent.id)
        )
    )


@pytest.fixture
def draft(make: Factory) -> tuple[Caller, dict[str, Any]]:
    city = make.city()
    member = make.as_role("city_member", city=city)
    grant = make.grant(city, amounts=(100_000, 25_050))
    return member, member.get(f"/grants/{grant.id}").get_json()


def test_an_empty_patch_of_a_grant_records_nothing(draft) -> None:
    member, grant = draft
    before = grant_row(grant["id"])
    history = events_of(grant["id"])

    r = member.patch(f"/grants/{grant['id']}", {})

    assert r.status_code == 200, r.get_json()
    assert r.get_json()["updated_at"] == grant["updated_at"]
    assert grant_row(grant["id"]) == before
    assert events_of(grant["id"]) == history


def test_a_patch_repeating_the_grants_values_records_nothing(draft) -> None:
    member, grant = draft
    before = grant_row(grant["id"])
    history = events_of(grant["id"])
    same = {
        "title": grant["title"],
        "summary": grant["summary"],
        "start_date": grant["start_date"],
        "end_date": grant["end_date"],
        "budget_lines": [
            {k: b[k] for k in ("category", "description", "amount")} for b in grant["budget_lines"]
        ],
    }

    r = member.patch(f"/grants/{grant['id']}", same)

    assert r.status_code == 200, r.get_json()
    assert [b["id"] for b in r.get_json()["budget_lines"]] == [
        b["id"] for b in grant["budget_lines"]
    ]
    assert grant_row(grant["id"]) == before
    assert events_of(grant["id"]) == history


def test_a_patch_that_changes_something_records_one_event(draft) -> None:
    member, grant = draft
    before = grant_row(grant["id"])
    history = events_of(grant["id"])

    r = member.patch(f"/grants/{grant['id']}", {"title": "A better title"})

    assert r.status_code == 200, r.get_json()
    assert r.get_json()["title"] == "A better title"
    updated_at, version = grant_row(grant["id"])
    assert updated_at > before[0] and version == before[1] + 1
    assert events_of(grant["id"]) == [*history, "update"]
    (event,) = member.get(f"/grants/{grant['id']}/history").get_json()[-1:]
    assert event["data"]["changed"] == {"title": {"from": grant["title"], "to": "A better title"}}


def test_an_empty_patch_of_a_grant_not_editable_is_still_refused(make: Factory) -> None:
    city = make.city()
    member = make.as_role("city_member", city=city)
    grant = make.grant(city, state="submitted")

    r = member.patch(f"/grants/{grant.id}", {})

    assert r.status_code == 409
    assert r.get_json()["reason"] == "invalid_transition"


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


def report_version(report_id: int) -> int:
    db.session.rollback()
    return db.session.get(Report, report_id, populate_existing=True).version


def test_an_empty_patch_of_a_report_records_nothing(pilot: Pilot) -> None:
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1")])
    version = report_version(report["id"])
    history = events_of(pilot.id)

    empty = pilot.member.patch(f"/reports/{report['id']}", {})
    same_narrative = pilot.member.patch(
        f"/reports/{report['id']}", {"narrative": report["narrative"]}
    )

    assert empty.status_code == 200, empty.get_json()
    assert same_narrative.status_code == 200, same_narrative.get_json()
    assert report_version(report["id"]) == version
    assert events_of(pilot.id) == history
    changed = pilot.member.patch(f"/reports/{report['id']}", {"narrative": {"trust": "Grown"}})
    assert changed.status_code == 200, changed.get_json()
    assert events_of(pilot.id) == [*history, "report_updated"]
