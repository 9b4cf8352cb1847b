"""A grant's history reads in words (issue 13, item 7).

Every row of a whole grant life: labels, not codes (states, events, kinds, categories, roles);
amounts as the page shows money (``1,950.00 EUR``); each field an edit changed, before → after;
never raw JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any

from grants.db import today
from tests.factories import Factory
from tests.money_helpers import (
    authorise,
    cancel,
    expense,
    new_report,
    pay,
    report_event,
    set_rate,
    sign_agreement,
    submitted_grant,
)
from tests.test_receipts import minimal_pdf, upload

NBSP = "\u00a0"


class _Table(HTMLParser):
    """The rows of the page's history table, each a list of its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.inside = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("class", "history") in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(re.sub(r"[ \t\r\n]+", " ", "".join(self.cell)).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def history_rows(html: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(html)
    header, *rows = parser.rows
    assert header == ["When", "Who", "What", "State", "Comment and details"]
    return rows


def whole_life(make: Factory) -> Any:
    """A grant from proposal to closure, with an edit, a cancelled payout, a returned and an
    adjusted report in Swedish kronor, a receipt and comments (shared and internal)."""
    pilot = submitted_grant(make, "1950.00")
    assert pilot.a.fire(pilot.id, "request_changes", comment="Add the bus.").status_code == 200
    r = pilot.member.patch(
        f"/grants/{pilot.id}",
        {
            "title": "Harbour evenings",
            "end_date": (pilot.end - dt.timedelta(days=5)).isoformat(),
            "budget_lines": [
                {"category": "fees", "description": "Fees", "amount": "1950.00"},
                {"category": "travel", "description": "Bus", "amount": "50.00"},
            ],
        },
    )
    assert r.status_code == 200, r.get_json()
    assert pilot.member.fire(pilot.id, "submit").status_code == 200
    r = pilot.a.fire(pilot.id, "approve", approved_amount="1950.00", comment="Well argued.")
    assert r.status_code == 200, r.get_json()
    sign_agreement(pilot.member, pilot.b, pilot.id)
    for visibility in ("shared", "internal"):
        body = {"body": f"A {visibility} note.", "visibility": visibility}
        assert pilot.a.post(f"/grants/{pilot.id}/comments", body).status_code == 201
    pay(pilot, "advance", expect="975.00")
    set_rate(pilot.a, "SEK", "11.6000")
    report = new_report(pilot.member, pilot.id, "interim", [expense("I-1", "SEK", "1000.00")])
    r = pilot.member.patch(
        f"/reports/{report['id']}", {"expenses": [expense("I-1", "SEK", "1200.00")]}
    )
    assert r.status_code == 200, r.get_json()
    line_id = r.get_json()["expenses"][0]["id"]
    assert upload(pilot.member, report["id"], minimal_pdf(), expense_id=line_id).status_code == 201
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    r = report_event(pilot.a, report["id"], "return", comment="The receipt is unreadable.")
    assert r.status_code == 200, r.get_json()
    assert report_event(pilot.member, report["id"], "submit").status_code == 200
    adjust = [{"expense_id": line_id, "eligible_eur": "50.00", "reason": "Half was private."}]
    r = report_event(pilot.a, report["id"], "accept", adjustments=adjust)
    assert r.status_code == 200, r.get_json()
    final = new_report(pilot.member, pilot.id, "final", [expense("F-1", "EUR", "1400.00")])
    assert report_event(pilot.member, final["id"], "submit").status_code == 200
    assert report_event(pilot.a, final["id"], "accept").status_code == 200
    r = authorise(pilot.a, pilot.id, "balance")
    assert r.status_code == 201, r.get_json()
    assert cancel(pilot.b, r.get_json()["id"], comment="Wrong account.").status_code == 200
    pay(pilot, "balance", expect="475.00")  # 50.00 + 1,400.00 eligible − 975.00 paid
    r = pilot.a.fire(pilot.id, "close", comment="All settled.")
    assert r.status_code == 200, r.get_json()
    return pilot


def test_a_whole_grant_life_reads_in_words(make: Factory, pages: Any) -> None:
    pilot = whole_life(make)
    html = pages(pilot.a.user).get(f"/grants/{pilot.id}").text
    rows = history_rows(html)
    text = "\n".join(" | ".join(row) for row in rows)
    what = [row[2] for row in rows]

    # Labels, not codes: no snake_case name, no lower-case kind or state in any row.
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text), text
    for row in rows:
        assert row[2][:1].isupper(), row
        assert not row[3] or row[3][:1].isupper(), row
    # No raw JSON, no amount written as the API writes it.
    assert not re.search(r"[{}\[\]]|\"\w+\":", text), text
    assert not re.search(r"(?<![\d,.])\d{4,}\.\d{2}\b", text), text
    assert "1950.00" not in text

    assert what[:4] == ["Proposal created", "Submit proposal", "Request changes", "Proposal edited"]
    assert "Submitted → Changes requested" in rows[2][3]
    assert f"Requested amount: 1,950.00{NBSP}EUR" in rows[0][4]
    assert f"Budget: Fees “Fees” 1,950.00{NBSP}EUR" in rows[0][4]
    edit = rows[3][4]
    assert "Title: Harbour stories → Harbour evenings" in edit
    end = pilot.end.isoformat()
    assert f"End date: {end} → {(pilot.end - dt.timedelta(days=5)).isoformat()}" in edit
    assert f"Requested amount: 1,950.00{NBSP}EUR → 2,000.00{NBSP}EUR" in edit
    assert f"Budget lines changed: added Travel “Bus” 50.00{NBSP}EUR" in edit

    def row_of(label: str, nth: int = 0) -> list[str]:
        found = [row for row in rows if row[2] == label]
        assert len(found) > nth, (label, what)
        return found[nth]

    approve = row_of("Approve")
    assert approve[3] == "Submitted → Approved"
    assert f"Approved amount: 1,950.00{NBSP}EUR" in approve[4]
    assert "Well argued." in approve[4]
    signed = row_of("Agreement signed by the city")
    assert "Signed by: Agnė Żółkiewska" in signed[4] and "sha256" not in signed[4].lower()
    assert "Shared with the city" in row_of("Comment", 0)[4]
    assert "Internal (staff and mentors)" in row_of("Comment", 1)[4]  # finance sees it
    authorised = row_of("Payout authorised")
    assert authorised[3] == "Authorised" and f"Advance of 975.00{NBSP}EUR" in authorised[4]
    paid = row_of("Payout confirmed paid")
    assert paid[3] == "Authorised → Paid"
    assert f"Paid on: {today().isoformat()}" in paid[4] and "Bank reference: BANK-1" in paid[4]
    assert row_of("Advance paid")[3] == "Approved → Advance paid"
    cancelled = row_of("Cancel payout")
    assert cancelled[3] == "Authorised → Cancelled"
    assert f"Balance of 475.00{NBSP}EUR" in cancelled[4] and "Wrong account." in cancelled[4]

    started = row_of("Report started")
    assert started[3] == "Draft"
    assert (
        f"Interim report; 1 expense line: invoice I-1 of Supplier I-1, 1,000.00{NBSP}SEK"
        in (started[4])
    )
    edited = row_of("Report edited")[4]
    assert f"1,000.00{NBSP}SEK → invoice I-1 of Supplier I-1, 1,200.00{NBSP}SEK" in edited
    assert "receipt.pdf" in row_of("Receipt added")[4]
    submitted = row_of("Submit report")
    assert submitted[3] == "Draft → Submitted"
    assert f"Total (EUR): 103.45{NBSP}EUR" in submitted[4]  # 1,200.00 SEK at 11.6000
    returned = row_of("Return to the city")
    assert returned[3] == "Submitted → Returned" and "The receipt is unreadable." in returned[4]
    adjusted = row_of("Eligible amount adjusted")[4]
    assert f"Invoice I-1: eligible 103.45{NBSP}EUR → 50.00{NBSP}EUR" in adjusted
    assert "Half was private." in adjusted
    accepted = row_of("Accept the report")
    assert accepted[3] == "Submitted → Accepted"
    assert f"Interim report; Eligible (EUR): 50.00{NBSP}EUR" in accepted[4]
    assert row_of("Interim report accepted")[3] == "Advance paid → Interim report accepted"
    assert row_of("Final report accepted")[3] == ("Interim report accepted → Final report accepted")
    closed = row_of("Close grant")
    assert closed[3] == "Final report accepted → Closed"
    assert f"What it cost (paid − recovered): 1,450.00{NBSP}EUR" in closed[4]
    assert f"{pilot.a.user.email} (Finance officer)" == closed[1]


def test_the_city_does_not_read_internal_comments_in_the_history(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make, "1000.00")
    for visibility in ("shared", "internal"):
        body = {"body": f"A {visibility} note.", "visibility": visibility}
        assert pilot.a.post(f"/grants/{pilot.id}/comments", body).status_code == 201
    text = str(history_rows(pages(pilot.member.user).get(f"/grants/{pilot.id}").text))
    assert "A shared note." in text
    assert "internal" not in text.lower()


def test_a_reports_page_has_its_own_history_in_words(make: Factory, pages: Any) -> None:
    pilot = whole_life(make)
    html = pages(pilot.member.user).get(f"/grants/{pilot.id}").text
    link = re.search(r'href="(/reports/\d+)">Interim report</a>', html)
    assert link, "no link to the interim report"
    rows = history_rows(pages(pilot.member.user).get(link.group(1)).text)
    what = [row[2] for row in rows]
    assert what[:3] == ["Report started", "Report edited", "Receipt added"]
    assert "Return to the city" in what and "Eligible amount adjusted" in what
    assert "Proposal created" not in what and "Final report" not in str(rows)
    returned = next(row for row in rows if row[2] == "Return to the city")
    assert returned[3] == "Submitted → Returned" and "The receipt is unreadable." in returned[4]
