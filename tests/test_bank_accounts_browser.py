"""The bank account in Chromium: the city proposes a change (a wrong check digit is refused
beside the field), another finance officer verifies it on the only screen with the full IBAN,
and the pages show it masked everywhere else. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from grants.banking.models import BankAccount
from grants.extensions import db
from tests.factories import Factory
from tests.test_pages_browser import (
    PHONE,
    SCREENSHOTS,
    Browser,
    Checks,
    browser,
    check,
    pytestmark,
)

# The fixtures and the skip, shared with the page walk.
__all__ = ["browser", "check", "pytestmark"]

NEW_IBAN = "DK95 2000 0123 4567 89"


def test_the_city_proposes_and_another_officer_verifies_in_chromium(
    make: Factory, browser: Browser, check: Checks
) -> None:
    city = make.city("Svendborg", country="DK")  # a verified account in force already
    member = make.user("city_member", city=city)
    finance = make.user("finance_officer")
    city_id, member_email, finance_email = city.id, member.email, finance.email
    db.session.commit()  # no read left open: SQLite lets the server write

    page = browser.sign_in(member_email)
    page.get_by_role("link", name="Bank account").click()
    page.wait_for_url(f"**/cities/{city_id}/bank-account")
    page.get_by_label("Account holder").fill("Svendborg Kommune, Kultur")
    page.get_by_label("IBAN").fill("DK95 2000 0123 4567 88")  # one digit wrong
    page.get_by_role("button", name="Propose").click()
    field_error = page.locator(".field.has-error")
    assert "check digits" in field_error.inner_text()
    page.get_by_label("IBAN").fill(NEW_IBAN)
    page.get_by_role("button", name="Propose").click()
    page.wait_for_url(f"**/cities/{city_id}/bank-account")
    text = page.locator("main").inner_text()
    assert "DK•• •••• •••• ••67 89" in text and "Waiting for verification" in text
    assert NEW_IBAN not in text  # masked for the city too
    page.screenshot(path=SCREENSHOTS / "bank-account-city.png", full_page=True)

    phone = browser.sign_in(member_email, **PHONE)
    phone.goto(f"{browser.base_url}/cities/{city_id}/bank-account")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=SCREENSHOTS / "bank-account-city-phone.png", full_page=True)

    officer = browser.sign_in(finance_email)
    queue = officer.locator("#accounts-to-verify")
    assert "Svendborg (DK): DK•• •••• •••• ••67 89" in queue.inner_text()
    queue.get_by_role("link", name="Svendborg (DK)").click()
    officer.wait_for_url("**/bank-accounts/*")
    assert NEW_IBAN in officer.locator("main").inner_text()  # the full IBAN, only here
    officer.screenshot(path=SCREENSHOTS / "bank-account-verification.png", full_page=True)
    check(officer, "bank-account-verification")  # both sizes, axe-core, nothing outside
    officer.get_by_role("button", name="Verify").click()
    officer.wait_for_url(f"**/cities/{city_id}/bank-account")
    assert "is verified and in force" in officer.content()
    db.session.expire_all()
    states = sorted(
        a.state for a in db.session.scalars(db.select(BankAccount).filter_by(city_id=city_id))
    )
    assert states == ["superseded", "verified"]
    check.assert_clean()
