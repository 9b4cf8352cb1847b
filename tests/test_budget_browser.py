"""The programme budget in Chromium: the admin sets it on the page, finance meets it on approval.

Same browser as tests/test_pages_browser.py (Debian's Chromium, no download; skipped, saying
why, where it is missing). Screenshots go to ``test-artifacts/screenshots/budget-*.png``.
"""

from __future__ import annotations

import re

from grants.extensions import db
from tests.factories import Factory
from tests.test_pages_browser import _OUTSIDE, SCREENSHOTS, Browser, browser, pytestmark

__all__ = ["browser", "pytestmark"]  # the fixture and the skip, shared with the page walk


def test_the_admin_sets_the_budget_and_an_approval_above_it_is_refused_in_words(
    make: Factory, browser: Browser
) -> None:
    year = 2031
    first, second = make.city(year=year), make.city(year=year)
    make.grant(first, state="approved", amounts=(400_000,))
    pilot_id = make.grant(second, state="submitted", amounts=(300_000,)).id
    admin, finance = make.user("admin").email, make.user("finance_officer").email
    # The browser's requests run on the server's threads: this thread keeps no transaction open.
    db.session.commit()
    db.session.remove()

    page = browser.sign_in(admin)
    page.get_by_role("link", name="Programme budget").click()
    page.get_by_role("link", name=str(year)).click()
    assert "no budget set" in page.locator("dl.figures").inner_text()
    page.get_by_label("Budget (EUR)").fill("6 000,00")
    page.get_by_role("button", name="Save budget").click()
    page.wait_for_url(re.compile(rf".*/title-years/{year}$"))
    figures = page.locator("dl.figures").inner_text()
    assert "6,000.00" in figures and "4,000.00" in figures and "2,000.00" in figures
    assert page.evaluate(_OUTSIDE) == []
    page.screenshot(path=str(SCREENSHOTS / "budget-year-admin.png"), full_page=True)

    page = browser.sign_in(finance)
    page.goto(f"{browser.base_url}/grants/{pilot_id}")
    headroom = page.locator("dl.headroom").inner_text()
    assert f"Programme {year}: available" in headroom and "2,000.00" in headroom
    page.get_by_role("button", name="Approve", exact=True).click()
    refusal = page.locator(".flash-error").first.inner_text()
    assert "budget 6,000.00" in refusal and "available 2,000.00" in refusal, refusal
    page.screenshot(path=str(SCREENSHOTS / "budget-approval-refused.png"), full_page=True)
    page.get_by_label("Approved amount (EUR)").fill("2000")
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_load_state()
    assert "Approved" in page.locator("main").inner_text()

    phone = browser.sign_in(finance, width=390, height=844)
    phone.goto(f"{browser.base_url}/title-years")
    assert phone.evaluate(_OUTSIDE) == []
    row = phone.get_by_role("row", name=re.compile(str(year))).inner_text()
    assert "6,000.00" in row and "0.00" in row
    phone.screenshot(path=str(SCREENSHOTS / "budget-years-phone.png"), full_page=True)
