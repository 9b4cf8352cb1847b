"""A refused approval in a real browser: the amount and the comment stay on screen, and the
refusal, with the figures that decided it, is next to the amount, inside the window.

Chromium from ``tests/test_pages_browser.py``'s browser fixture (Debian's
``/usr/bin/chromium``, never a downloaded browser; skipped, saying why, where it is missing). A
screenshot of each size is written to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from grants.extensions import db
from tests.factories import Factory
from tests.money_helpers import submitted_grant
from tests.test_form_refusals import propose
from tests.test_pages_browser import DESKTOP, PHONE, SCREENSHOTS, Browser, browser, pytestmark

__all__ = ["browser", "pytestmark"]  # the fixture and the skip, shared with the page walk


@pytest.mark.parametrize(
    "size, viewport",
    [("desktop", DESKTOP), ("phone", PHONE)],
)
def test_a_refused_approval_keeps_amount_and_comment_on_screen_with_the_reason_beside(
    browser: Browser, live: Any, make: Factory, size: str, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    pilot = submitted_grant(make, "4000.00")
    other = propose(pilot, "3000.00")
    assert pilot.a.fire(other, "approve").status_code == 200  # 2,000.00 left of 5,000.00
    email, grant_id = pilot.a.user.email, pilot.id
    db.session.commit()
    db.session.remove()

    page = browser.sign_in(email, **viewport)
    page.goto(f"{live.base_url}/grants/{grant_id}")
    amount = page.get_by_label("Approved amount (EUR)")
    expect(amount).to_have_value("4000.00")  # what is sent is what is seen
    comment = page.get_by_label("Approval comment (optional)")
    amount.fill("2500.00")
    typed = "Within the title's aims; the rest next year."
    comment.fill(typed)
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_url(re.compile(rf".*/grants/{grant_id}/events/approve#form-approve$"))

    # Still there, as typed.
    expect(page.get_by_label("Approved amount (EUR)")).to_have_value("2500.00")
    expect(page.get_by_label("Approval comment (optional)")).to_have_value(typed)
    # The reason, with the figures, next to the amount and inside the window.
    error = page.locator("#approved_amount-error")
    expect(error).to_contain_text("available 2,000.00\u00a0EUR")
    expect(error).to_contain_text("cap 5,000.00\u00a0EUR")
    expect(error).to_be_in_viewport()
    expect(page.get_by_label("Approved amount (EUR)")).to_be_in_viewport()
    expect(page.get_by_label("Approved amount (EUR)")).to_have_attribute("aria-invalid", "true")
    box, field = error.bounding_box(), amount.bounding_box()
    assert box is not None and field is not None
    assert 0 <= field["y"] - (box["y"] + box["height"]) < 40, "the reason is not next to the field"
    page.screenshot(path=str(SCREENSHOTS / f"approval-refused-{size}.png"))
    page.context.close()
