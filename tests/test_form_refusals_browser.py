"""A refused approval in a real browser: the amount and the comment stay on screen, and the
refusal, with the figures that decided it, is next to the amount, inside the window.

Chromium as in ``tests/test_pages_browser.py`` (Debian's ``/usr/bin/chromium``, never a
downloaded browser; skipped, saying why, where it is missing). A screenshot of each size is
written to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grants.extensions import db
from tests.factories import PASSWORD, Factory
from tests.money_helpers import submitted_grant
from tests.test_form_refusals import propose

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it with apt-get); "
    "no browser is downloaded",
)


@pytest.fixture
def chromium(live: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Any, base_url: str, email: str, viewport: dict[str, int]) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/dashboard$"))
    return page


@pytest.mark.parametrize(
    "size, viewport",
    [("desktop", {"width": 1366, "height": 900}), ("phone", {"width": 390, "height": 844})],
)
def test_a_refused_approval_keeps_amount_and_comment_on_screen_with_the_reason_beside(
    chromium: Any, live: Any, make: Factory, size: str, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    pilot = submitted_grant(make, "4000.00")
    other = propose(pilot, "3000.00")
    assert pilot.a.fire(other, "approve").status_code == 200  # 2,000.00 left of 5,000.00
    email, grant_id = pilot.a.user.email, pilot.id
    db.session.commit()
    db.session.remove()

    page = sign_in(chromium, live.base_url, email, viewport)
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
