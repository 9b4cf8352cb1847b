"""The grant page's next step, computed from the policies, with the figures that decide it.

Issue 13 (items 1 and 3): a finance officer approves seeing the title's headroom; after the
approval the advance is offered first with its default amount; with a balance due the balance
comes before closing, and closing is held back with the reason; what cannot be undone sits
apart and asks first; the city reads finance's request for changes at the top of the grant.
"""

from __future__ import annotations

import re
from typing import Any

from tests.factories import Factory
from tests.money_helpers import (
    approved_grant,
    final_reported_grant,
    refused,
    submitted_grant,
)


def actions(html: str) -> str:
    """The "What you can do now" panel."""
    match = re.search(r'<section class="card actions">(.*?)</section>', html, re.S)
    assert match, "no actions panel"
    return match.group(1)


def step_buttons(panel: str) -> list[str]:
    """The labels of the step buttons, in order, outside the set-apart zone."""
    main = panel.split('<details class="danger-zone">')[0]
    return re.findall(r'<button type="submit" class="button[^"]*"[^>]*>([^<]+)</button>', main)


def test_the_approval_shows_the_titles_headroom_to_the_cent(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make, "1234.56")
    other = approved_grant(make, "700.00")  # another city: its commitment is not this one's
    assert other.id != pilot.id
    panel = actions(pages(pilot.a.user).get(f"/grants/{pilot.id}").text)
    headroom = re.search(r'<dl class="figures small headroom".*?</dl>', panel, re.S).group(0)
    assert "Requested</dt><dd>1,234.56\u00a0EUR" in headroom
    assert "cap</dt><dd>5,000.00\u00a0EUR" in headroom
    assert "Committed</dt><dd>0.00\u00a0EUR" in headroom
    assert "Available to approve</dt><dd>5,000.00\u00a0EUR" in headroom
    assert 'name="approved_amount" value="1234.56"' in panel
    assert step_buttons(panel)[0] == "Approve"


def test_after_the_approval_the_advance_is_offered_first_and_terminating_is_set_apart(
    make: Factory, pages: Any
) -> None:
    pilot = approved_grant(make, "2300.50")
    panel = actions(pages(pilot.a.user).get(f"/grants/{pilot.id}").text)
    assert step_buttons(panel)[0] == "Authorise the advance"
    assert 'name="amount" value="1150.25"' in panel  # half the approved amount, shown
    assert "<strong>1,150.25\u00a0EUR</strong>" in panel
    zone = panel.split('<details class="danger-zone">')[1]
    assert "Terminate grant</button>" in zone
    assert 'data-confirm="Terminate grant: this cannot be undone. Continue?"' in zone
    assert "Terminate grant" not in step_buttons(panel)


def test_with_a_balance_due_the_balance_comes_before_closing_and_closing_waits(
    make: Factory, pages: Any
) -> None:
    # 4,000.00 approved, 2,000.00 advance paid, 1,500.00 + 1,800.00 accepted: 1,300.00 due.
    pilot = final_reported_grant(make, "1500.00", "1800.00")
    html = pages(pilot.a.user).get(f"/grants/{pilot.id}").text
    panel = actions(html)
    assert step_buttons(panel)[0] == "Authorise the balance"
    assert 'name="amount" value="1300.00"' in panel
    assert "Close grant</button>" not in panel
    assert "<strong>Close grant</strong> is not possible yet: Balance due 1300.00" in panel
    # The API agrees: closing now is refused for the same reason.
    refused(pilot.a.fire(pilot.id, "close"), 409, "money_owed")


def test_the_city_reads_what_finance_asked_to_change_at_the_top(make: Factory, pages: Any) -> None:
    pilot = submitted_grant(make)
    asked = "Please split the venue line per evening."
    r = pilot.a.fire(pilot.id, "request_changes", comment=asked)
    assert r.status_code == 200, r.get_json()
    html = pages(pilot.member.user).get(f"/grants/{pilot.id}").text
    top = html.split('<div class="grant-layout">')[0]
    assert "Finance asked for changes" in top
    assert f"<q>{asked}</q>" in top


def test_confirming_a_payout_asks_first(make: Factory, pages: Any) -> None:
    pilot = approved_grant(make, "1000.00")
    r = pilot.a.post(f"/grants/{pilot.id}/disbursements", {"kind": "advance"})
    assert r.status_code == 201
    for path in (f"/grants/{pilot.id}", "/dashboard"):
        html = pages(pilot.b.user).get(path).text
        assert (
            f'data-confirm="Confirm that 500.00\u00a0EUR was paid to {pilot.city.name}? '
            'This cannot be undone."'
        ) in html


def test_the_history_says_what_an_edit_changed(make: Factory, pages: Any) -> None:
    """Issue 13, item 7 (in part): an edit's row names each field, before → after."""
    pilot = submitted_grant(make, "1250.49")
    r = pilot.a.fire(pilot.id, "request_changes", comment="Round the fees up.")
    assert r.status_code == 200
    r = pilot.member.call(
        "PATCH",
        f"/grants/{pilot.id}",
        {
            "title": "Harbour evenings",
            "budget_lines": [{"category": "fees", "description": "Fees", "amount": "1250.51"}],
        },
    )
    assert r.status_code == 200, r.get_json()
    html = pages(pilot.member.user).get(f"/grants/{pilot.id}").text
    history = html.split('class="history"')[1]
    assert "→ Harbour evenings" in history
    assert "Requested amount: 1,250.49\u00a0EUR → 1,250.51\u00a0EUR" in history
    assert "Budget lines changed" in history
