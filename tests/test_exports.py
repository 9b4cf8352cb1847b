"""Statements for auditors: each kind reopened with openpyxl and checked against the database."""

from __future__ import annotations

import hashlib
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.test_money_life import MONTH, approved_grant, expense, file_report, pay

SHEETS = ["Summary", "Budget", "Payouts", "Expenses", "Audit trail", "About"]


def headers(ws):
    return [c.value for c in next(ws.iter_rows(min_row=1, max_row=1))]


def rows(ws):
    """Data rows, without the header and the totals row."""
    values = [list(r) for r in ws.iter_rows(min_row=2, values_only=True)]
    return [r for r in values if r[0] != "Total"]


def total_row(ws):
    return next(list(r) for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "Total")


@pytest.fixture
def pilot(make):
    """A grant with an advance paid and an accepted interim report in DKK and EUR."""
    city, member, a, b, gid = approved_grant(make)
    admin = make.as_role("admin")
    admin.put(f"/exchange-rates/{MONTH}/DKK", {"rate": "7.4604"})
    pay(a, b, gid, "advance")
    evil = expense("I-2", "EUR", "250.50")
    evil["description"] = '=HYPERLINK("http://example.invalid","click")'
    file_report(
        member,
        a,
        gid,
        "interim",
        [expense("I-1", "DKK", "7460.40"), evil],
        adjustments=[(1, "200.25", "Partly outside the action plan")],
    )
    return city, gid, make.as_role("auditor")


def export(caller, body):
    r = caller.post("/exports", body)
    assert r.status_code == 202, r.get_json()
    assert r.headers["Location"].endswith(f"/api/v1/exports/{r.get_json()['id']}")
    status = caller.get(f"/exports/{r.get_json()['id']}").get_json()
    assert status["status"] == "finished", status
    f = caller.get(f"/exports/{status['id']}/file")
    assert f.status_code == 200
    assert "attachment" in f.headers["Content-Disposition"]
    assert hashlib.sha256(f.data).hexdigest() == status["sha256"]
    assert status["size"] == len(f.data)
    return status, load_workbook(BytesIO(f.data))


@pytest.mark.parametrize("kind", ["grant_statement", "city_statement", "programme_statement"])
def test_each_statement_reconciles_with_the_database(pilot, kind):
    city, gid, auditor = pilot
    year = auditor.get(f"/grants/{gid}").get_json()["title_year"]
    body = {
        "grant_statement": {"kind": kind, "grant_id": gid},
        "city_statement": {"kind": kind, "city_id": city.id, "title_year": year},
        "programme_statement": {"kind": kind, "title_year": year},
    }[kind]
    status, wb = export(auditor, body)
    assert status["file_name"].startswith(f"pearl-grants_{kind}_")
    assert wb.sheetnames == SHEETS
    summary = wb["Summary"]
    assert headers(summary)[:7] == [
        "Grant id",
        "City",
        "Country",
        "Title year",
        "Grant title",
        "State",
        "Approved",
    ]
    grant = auditor.get(f"/grants/{gid}").get_json()
    [row] = rows(summary)
    assert row[0] == gid and row[5] == "interim_reported"
    assert f"{row[6]:.2f}" == grant["approved_amount"] == "4000.00"
    assert f"{row[7]:.2f}" == grant["paid_amount"] == "2000.00"
    assert f"{row[10]:.2f}" == grant["eligible_eur"] == "1200.25"
    assert summary.freeze_panes == "A2"
    assert summary.cell(row=2, column=7).number_format == '#,##0.00 "EUR"'

    expenses = wb["Expenses"]
    lines = rows(expenses)
    assert len(lines) == 2
    cols = headers(expenses)
    desc, eur, elig = cols.index("Description"), cols.index("EUR"), cols.index("Eligible EUR")
    assert lines[1][desc] == '=HYPERLINK("http://example.invalid","click")'
    cell = expenses.cell(row=3, column=desc + 1)
    assert cell.data_type == "s"
    assert [f"{r[eur]:.2f}" for r in lines] == ["1000.00", "250.50"]
    assert f"{total_row(expenses)[elig]:.2f}" == "1200.25"

    payouts = rows(wb["Payouts"])
    assert [(r[3], f"{r[5]:.2f}", r[4]) for r in payouts] == [("advance", "2000.00", "paid")]
    actions = [r[5] for r in rows(wb["Audit trail"])]
    assert "approve" in actions and "report_accept" in actions
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True)}
    assert about["Expenses: rows"] == 2
    assert about["Requested by"] == auditor.user.email
    from grants.audit import AuditEvent
    from grants.extensions import db

    # The statement names the chain's head when it was made: that event, with that hash.
    head = db.session.get(AuditEvent, about["Audit chain head: event"])
    assert about["Audit chain head: SHA-256"] == head.hash
    assert head.action == "export_requested"
    assert wb.properties.creator == "Pearl Grants"
    if kind == "grant_statement":
        history = [e["action"] for e in auditor.get(f"/grants/{gid}/history").get_json()]
        assert history.count("export_downloaded") == 1
    check_statement_additions(wb, grant, city)


def column(ws, header):
    """The data values of the column headed ``header``."""
    index = headers(ws).index(header)
    return [r[index] for r in rows(ws)]


def check_statement_additions(wb, grant, city):
    """Budget sheet, request and dates, the title's figures, labels, rates, print setup."""
    import datetime as dt

    from grants.audit import AuditEvent
    from grants.cities.models import Title
    from grants.extensions import db
    from grants.grant.models import Grant

    summary = wb["Summary"]
    assert [f"{v:.2f}" for v in column(summary, "Requested")] == [grant["requested_amount"]]
    assert column(summary, "State (label)") == ["Interim report accepted"]
    assert column(summary, "Pilot start") == [dt.datetime.fromisoformat(grant["start_date"])]
    assert column(summary, "Pilot end") == [dt.datetime.fromisoformat(grant["end_date"])]
    title = db.session.get(Title, db.session.get(Grant, grant["id"]).title_id)
    assert f"{column(summary, 'Title cap')[0]:.2f}" == f"{title.cap_cents / 100:.2f}"
    assert column(summary, "Title committed")[0] * 100 == title.committed_cents
    assert column(summary, "Title available")[0] * 100 == title.cap_cents - title.committed_cents

    # The budget: planned per category, adding up to the requested amount to the cent.
    budget = wb["Budget"]
    planned = {}
    for line in grant["budget_lines"]:
        planned[line["category"]] = planned.get(line["category"], 0) + int(
            line["amount"].replace(".", "")
        )
    assert {r[2]: round(r[5] * 100) for r in rows(budget)} == planned
    assert column(budget, "Category (label)") == [
        c.capitalize() for c in column(budget, "Category")
    ]
    assert f"{total_row(budget)[5]:.2f}" == grant["requested_amount"]

    payouts = wb["Payouts"]
    assert column(payouts, "Kind (label)") == ["Advance"]
    assert column(payouts, "State (label)") == ["Paid"]
    expenses = wb["Expenses"]
    assert set(column(expenses, "Report state (label)")) == {"Accepted"}
    assert column(expenses, "Report (label)") == ["Interim", "Interim"]

    # Every event of the grant, and the setting of the DKK rate its interim report used.
    audit = wb["Audit trail"]
    events = rows(audit)
    cols = headers(audit)
    action, label = cols.index("Action"), cols.index("Action (label)")
    approve = next(r for r in events if r[action] == "approve")
    assert approve[label] == "Approve"
    assert approve[cols.index("Role (label)")] == "Finance officer"
    assert approve[cols.index("To (label)")] == "Approved"
    [rate] = [r for r in events if r[action] == "rate_set"]
    assert rate[cols.index("Grant id")] is None
    assert '"currency": "DKK"' in rate[cols.index("Data")]

    expected = set(
        db.session.scalars(
            db.select(AuditEvent.id).where(
                (AuditEvent.grant_id == grant["id"]) | (AuditEvent.action == "rate_set")
            )
        )
    )
    # The events up to the statement's request (its download came later).
    head = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True)}["Audit chain head: event"]
    assert {r[0] for r in events} == {e for e in expected if e <= head}

    for ws in (wb[name] for name in SHEETS):
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.oddFooter.left.text == "&A" and "&P" in ws.oddFooter.right.text
        if ws.title != "About":
            assert ws.print_title_rows == "$1:$1"
            n = len(rows(ws))
            last = ws.cell(row=1, column=len(headers(ws))).column_letter
            assert ws.auto_filter.ref == f"A1:{last}{n + 1}"
            # The print area is the table: header, data and the totals row.
            assert ws.print_area.endswith(f"!$A$1:${last}${ws.max_row}")
            money = [
                i
                for i, c in enumerate(ws[2] if n else [], start=1)
                if "EUR" in str(c.number_format)
            ]
            for i in money:
                assert ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width >= 17


def test_a_failing_job_marks_the_export_failed_and_not_ready(pilot, monkeypatch):
    _city, gid, auditor = pilot
    import exports.jobs

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports.jobs, "write_workbook", broken)
    r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})
    assert r.status_code == 202
    status = auditor.get(f"/exports/{r.get_json()['id']}").get_json()
    assert status["status"] == "failed"
    assert "disk full" in status["error"]
    f = auditor.get(f"/exports/{status['id']}/file")
    assert f.status_code == 409 and f.get_json()["reason"] == "not_ready"


@pytest.mark.parametrize("role", ["city_member", "mentor"])
def test_city_members_and_mentors_cannot_request_statements(pilot, make, role):
    city, gid, _ = pilot
    caller = make.as_role(role, city=city) if role == "city_member" else make.as_role(role)
    r = caller.post("/exports", {"kind": "grant_statement", "grant_id": gid})
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "grant_statement", "grant_id": 999999},
        {"kind": "city_statement", "city_id": 999999, "title_year": 2025},
        {"kind": "ledger"},
        {"kind": "grant_statement"},
    ],
)
def test_unknown_grant_city_or_kind_is_422(make, body):
    auditor = make.as_role("auditor")
    r = auditor.post("/exports", body)
    assert r.status_code == 422, r.get_json()
