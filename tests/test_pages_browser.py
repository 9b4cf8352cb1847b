"""The web interface in a real browser: a pilot's whole life through the pages, by four users.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run`` from
Debian's packages; no browser is ever downloaded) against the test app served over HTTP on
127.0.0.1. Every request the browser makes is recorded: none may leave that host, and no
page may break its Content-Security-Policy. Screenshots of each role's dashboard and of a
grant page are written to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from grants.db import today
from grants.extensions import db
from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it with apt-get); "
    "no browser is downloaded",
)

# A tiny but real PDF: the receipt check reads the content, not the name.
RECEIPT = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


class Browser:
    """One Chromium for the test; a fresh context (cookies) per user; every request recorded."""

    def __init__(self, playwright: Any, base_url: str) -> None:
        self.base_url = base_url
        self.browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        self.requests: list[str] = []
        self.console_errors: list[str] = []

    def sign_in(self, email: str, *, width: int = 1280, height: int = 900) -> Any:
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        context.on("request", lambda request: self.requests.append(request.url))
        page = context.new_page()
        # What cannot be undone asks first (data-confirm): the person says yes.
        page.on("dialog", lambda dialog: dialog.accept())
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.goto(f"{self.base_url}/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r".*/dashboard$"))
        return page

    def close(self) -> None:
        self.browser.close()


@pytest.fixture
def browser(live: Any) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        b = Browser(playwright, live.base_url)
        try:
            yield b
        finally:
            b.close()
    # Every request went to the app itself (no CDN, no font service, nothing else).
    assert b.requests, "the browser made no request"
    for url in b.requests:
        parts = urlparse(url)
        if parts.scheme in ("data", "blob"):
            continue
        assert parts.hostname == "127.0.0.1", f"a page requested another host: {url}"
    assert not [e for e in b.console_errors if "Content Security Policy" in e], b.console_errors


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def flash(page: Any) -> str:
    return page.locator(".flash").first.inner_text()


@pytest.fixture
def people(make: Any) -> dict[str, Any]:
    city = make.city("Svendborg", country="DK")
    other = make.city("Kiel", country="DE")
    people = {
        "member": make.user("city_member", city=city),
        "officer_a": make.user("finance_officer"),
        "officer_b": make.user("finance_officer"),
        "auditor": make.user("auditor"),
        "mentor": make.user("mentor", mentor_of=(city, other)),
        "admin": make.user("admin"),
        "city": city,
    }
    emails = {k: v.email for k, v in people.items() if k != "city"}
    city_id = city.id
    # The browser's requests run on the server's threads: this thread keeps no transaction open.
    db.session.commit()
    db.session.remove()
    return {**emails, "city_id": city_id}


def test_a_pilots_whole_life_through_the_pages(browser: Browser, people: dict, app_ctx: Any):
    from playwright.sync_api import expect

    base = browser.base_url
    start, end = today(), today() + dt.timedelta(days=90)
    month = today().strftime("%Y-%m")

    # 1. A city member proposes a pilot with two budget lines, then submits it.
    member = browser.sign_in(people["member"])
    expect(member.get_by_role("heading", level=1)).to_have_text(re.compile("Svendborg"))
    shot(member, "dashboard-city-member")
    member.get_by_role("link", name="Propose a pilot").click()
    member.get_by_label("Title of the pilot").fill("Harbour stories")
    member.get_by_label("Summary").fill("Storytelling evenings in the old harbour.")
    member.get_by_label("Start date").fill(start.isoformat())
    member.get_by_label("End date").fill(end.isoformat())
    rows = member.locator("[data-line]")
    expect(rows).to_have_count(2)
    # Add a third line and remove it again (the page's script, no reload).
    member.get_by_role("button", name="Add a budget line").click()
    expect(rows).to_have_count(3)
    rows.nth(2).get_by_role("button", name="Remove budget line").click()
    expect(rows).to_have_count(2)
    for i, (category, description, amount) in enumerate(
        [("fees", "Storytellers' fees", "1500.00"), ("venue", "Harbour warehouse", "800.50")]
    ):
        rows.nth(i).get_by_label("Category").select_option(category)
        rows.nth(i).get_by_label("Description").fill(description)
        rows.nth(i).get_by_label("Amount (EUR)").fill(amount)
    expect(member.locator("[data-line-total]")).to_have_text(
        "Total of the lines: 2,300.50\u00a0EUR"
    )
    member.get_by_role("button", name="Save as draft").click()
    expect(member.locator(".flash")).to_contain_text("Proposal saved as a draft")
    grant_url = member.url
    grant_id = int(grant_url.rstrip("/").rsplit("/", 1)[1])
    expect(member.locator(".figures")).to_contain_text("2,300.50\u00a0EUR")
    expect(member.locator(".sd-state.current")).to_have_attribute("data-state", "draft")
    member.get_by_role("button", name="Submit proposal").click()
    expect(member.locator(".flash")).to_contain_text("Done: submit proposal")
    expect(member.locator(".grant-head .badge")).to_have_text("Submitted")

    # 2. A finance officer approves it with a comment, sets a rate and authorises the advance.
    officer_a = browser.sign_in(people["officer_a"])
    expect(officer_a.locator("#to-decide ~ ul")).to_contain_text("Harbour stories")
    officer_a.get_by_role("link", name="Harbour stories").first.click()
    # Beside the approval, the figures that decide it: the title's headroom.
    expect(officer_a.locator(".headroom")).to_contain_text("Available to approve")
    expect(officer_a.locator(".headroom")).to_contain_text("2,300.50\u00a0EUR")
    officer_a.get_by_label("Comment (optional)").first.fill("A fine pilot for the title's aims.")
    officer_a.get_by_role("button", name="Approve").click()
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Approved")
    expect(officer_a.locator("table.history")).to_contain_text("A fine pilot")
    # The next step is the advance, with its default amount shown; terminating is set apart.
    actions = officer_a.locator(".actions")
    expect(actions.locator("form.step button").first).to_have_text("Authorise the advance")
    expect(actions.get_by_label("Amount of the advance (EUR)")).to_have_value("1150.25")
    expect(actions.locator("details.danger-zone")).to_contain_text("Terminate")
    expect(actions.locator("details.danger-zone")).not_to_have_attribute("open", "")
    shot(officer_a, "grant-approved-next-step")
    officer_a.get_by_role("button", name="Authorise the advance").click()
    expect(officer_a.locator(".flash")).to_contain_text("advance payout is authorised")
    expect(officer_a.locator("#payouts")).to_contain_text("Advance 1,150.25\u00a0EUR")
    # The officer who authorised it is told that another must confirm it: no button.
    expect(officer_a.get_by_role("button", name="Confirm paid")).to_have_count(0)
    expect(officer_a.locator("#payouts")).to_contain_text("another finance officer confirms it")
    officer_a.goto(f"{base}/rates")
    officer_a.get_by_label("Month").last.fill(month)
    officer_a.get_by_label("Currency").fill("DKK")
    officer_a.get_by_label("Units per 1 EUR").fill("7.4604")
    officer_a.get_by_role("button", name="Save rate").click()
    expect(officer_a.locator("table")).to_contain_text("7.4604")
    officer_a.goto(f"{base}/dashboard")
    expect(officer_a.locator("#to-confirm")).to_contain_text("You authorised this payout")
    shot(officer_a, "dashboard-finance-officer-own-payout")

    # 3. A second officer confirms it paid, from the work queue.
    officer_b = browser.sign_in(people["officer_b"])
    queue = officer_b.locator("#to-confirm")
    expect(queue).to_contain_text("Advance 1,150.25\u00a0EUR")
    shot(officer_b, "dashboard-finance-officer")
    queue.get_by_label("Bank reference").fill("BANK-2025-0001")
    queue.get_by_role("button", name="Confirm paid").click()
    expect(officer_b.locator(".flash")).to_contain_text("confirmed as paid")
    officer_b.goto(grant_url)
    expect(officer_b.locator(".grant-head .badge")).to_have_text("Advance paid")

    # 4. The city files the interim report (EUR and DKK lines) with a receipt, and submits it.
    member.goto(grant_url)
    member.get_by_role("link", name="File the interim report").click()
    member.get_by_label("Activities").fill("Six storytelling evenings.")
    member.get_by_label("Participants").fill("About 240 residents.")
    lines = member.locator("[data-line]")
    member.get_by_role("button", name="Add an expense line").click()
    expect(lines).to_have_count(2)
    for i, (number, currency, amount) in enumerate(
        [("INV-1", "EUR", "600.00"), ("F-2025-17", "DKK", "3730.20")]
    ):
        line = lines.nth(i)
        line.get_by_label("Invoice number").fill(number)
        line.get_by_label("Invoice date").fill(start.isoformat())
        line.get_by_label("Payment date").fill(start.isoformat())
        line.get_by_label("Supplier").fill(f"Supplier of {number}")
        line.get_by_label("Category").select_option("fees")
        line.get_by_label("Description").fill("Storytellers")
        line.get_by_label("Currency").fill(currency)
        line.get_by_label("Amount, VAT included").fill(amount)
    member.get_by_role("button", name="Save report").click()
    expect(member.locator(".flash")).to_contain_text("interim report is saved as a draft")
    member.get_by_label("Receipt file").set_input_files(
        files=[{"name": "invoice-1.pdf", "mimeType": "application/pdf", "buffer": RECEIPT}]
    )
    member.get_by_label("For the expense line").select_option(label="INV-1 — Supplier of INV-1")
    member.get_by_role("button", name="Upload receipt").click()
    expect(member.locator(".flash")).to_contain_text("Receipt invoice-1.pdf uploaded")
    expect(member.locator("table.expenses")).to_contain_text("invoice-1.pdf")
    member.get_by_role("button", name="Submit report").click()
    expect(member.locator(".grant-head, .meta").first).to_contain_text("Submitted")
    expect(member.locator("table.expenses")).to_contain_text("7.4604")
    # 3730.20 DKK / 7.4604 = 500.00 EUR
    expect(member.locator(".figures")).to_contain_text("1,100.00\u00a0EUR")
    report_url = member.url

    # 5. The finance officer accepts it, marking part of one line ineligible with a reason.
    officer_a.goto(f"{base}/dashboard")
    officer_a.locator("#to-verify ~ ul").get_by_role("link").first.click()
    assert officer_a.url == report_url
    expense_ids = [
        int(re.search(r"adjust-(\d+)-", name).group(1))
        for name in officer_a.locator("input[name$='-eligible_eur']").evaluate_all(
            "els => els.map(e => e.name)"
        )
    ]
    officer_a.locator(f"#adjust-{expense_ids[1]}-eligible_eur").fill("450.00")
    officer_a.locator(f"#adjust-{expense_ids[1]}-reason").fill("One evening fell outside the plan.")
    officer_a.get_by_role("button", name="Accept the report").click()
    expect(officer_a.locator(".flash")).to_contain_text("Report accepted")
    expect(officer_a.locator(".figures")).to_contain_text("1,050.00\u00a0EUR")
    shot(officer_a, "report-page")
    officer_a.goto(grant_url)
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Interim report accepted")
    officer_a.get_by_label("Your comment").fill("Mentor: please look at the audience figures.")
    officer_a.get_by_label("Internal (staff and mentors)").check()
    officer_a.get_by_role("button", name="Add comment").click()
    expect(officer_a.locator("#comments")).to_contain_text("internal")

    # 6. An auditor requests a statement of the grant and downloads it.
    auditor = browser.sign_in(people["auditor"])
    shot(auditor, "dashboard-auditor")
    auditor.get_by_role("link", name="Financial statements").click()
    auditor.get_by_label("Grant", exact=True).select_option(str(grant_id))
    auditor.get_by_role("button", name="Request grant statement").click()
    item = auditor.locator(".export").first
    expect(item.locator("[data-export-status]")).to_have_text("Finished", timeout=30_000)
    with auditor.expect_download() as download_info:
        item.get_by_role("link", name=re.compile("^Download")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    shot(auditor, "statements-page")
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    summary = workbook[workbook.sheetnames[0]]
    cells = [str(c) for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert "Harbour stories" in cells
    workbook.close()
    auditor.goto(grant_url)
    expect(auditor.locator("table.history")).to_contain_text("report accept")
    expect(auditor.locator("table.history")).to_contain_text("export downloaded")
    expect(auditor.get_by_role("button", name="Add comment")).to_have_count(0)

    # The screenshots of the other roles, and the grant page on a desktop and on a phone.
    mentor = browser.sign_in(people["mentor"])
    expect(mentor.locator("main")).to_contain_text("Harbour stories")
    shot(mentor, "dashboard-mentor")
    admin = browser.sign_in(people["admin"])
    shot(admin, "dashboard-admin")
    officer_b.goto(grant_url)
    shot(officer_b, "grant-page")
    phone = browser.sign_in(people["member"], width=390, height=844)
    phone.goto(grant_url)
    expect(phone.locator(".sd-state.current")).to_have_attribute("data-state", "interim_reported")
    shot(phone, "grant-page-phone")
    # Usable on a phone: nothing wider than the screen (wide tables scroll inside their box).
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    # The member does not see the internal comment.
    expect(phone.locator("#comments")).not_to_contain_text("audience figures")


def test_statement_progress_updates_without_reloading(browser: Browser, people: dict, app_ctx: Any):
    """A queued statement: the page polls its status and offers the download once it is done."""
    from playwright.sync_api import expect

    from exports import services
    from exports.jobs import run_inline
    from grants.cities.models import Title
    from grants.users.models import User

    auditor_user = db.session.scalar(select(User).where(User.email == people["auditor"]))
    title_year = db.session.scalar(select(Title.year).where(Title.city_id == people["city_id"]))
    export = services.request_export(
        "city_statement",
        {"city_id": people["city_id"], "title_year": title_year},
        actor=auditor_user,
    )
    db.session.commit()
    export_id = export.id
    db.session.remove()

    auditor = browser.sign_in(people["auditor"])
    auditor.goto(f"{browser.base_url}/statements")
    item = auditor.locator(f"#export-{export_id}")
    expect(item.locator("[data-export-status]")).to_have_text("Queued")
    expect(item.locator("[data-export-download]")).to_be_hidden()
    polls_before = sum(1 for u in browser.requests if u.endswith(f"/statements/{export_id}/status"))
    assert polls_before >= 1

    run_inline(export_id)  # the worker does its job while the page stays open
    db.session.remove()

    expect(item.locator("[data-export-status]")).to_have_text("Finished", timeout=15_000)
    expect(item.locator("[data-export-download]")).to_be_visible()
    expect(item.locator("[data-export-percent]")).to_have_text("100 %")
    assert auditor.url.endswith("/statements")  # the same page: no reload


def test_signing_in_and_moving_around_with_the_keyboard_alone(browser: Browser, people: dict):
    from playwright.sync_api import expect

    context = browser.browser.new_context(viewport={"width": 1024, "height": 800})
    context.on("request", lambda request: browser.requests.append(request.url))
    page = context.new_page()
    page.goto(f"{browser.base_url}/login")
    expect(page.get_by_label("Email")).to_be_focused()  # the sign-in form starts there
    page.keyboard.type(people["member"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/dashboard$"))
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")  # focus moves to the main content
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Propose a pilot")).to_be_focused()
    context.close()


def test_the_api_reference_works_under_the_content_security_policy(browser: Browser):
    from playwright.sync_api import expect

    context = browser.browser.new_context()
    context.on("request", lambda request: browser.requests.append(request.url))
    page = context.new_page()
    page.on(
        "console",
        lambda msg: browser.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    page.goto(f"{browser.base_url}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Pearl Grants", timeout=20_000)
    expect(page.locator(".opblock").first).to_be_visible()
    context.close()


def test_a_refused_comment_keeps_what_was_typed_and_says_why_beside_the_form(
    browser: Browser, people: dict, make: Any
):
    """A pasted invisible character (a word processor's line break) refuses the comment: the
    text stays in the box and the refusal is shown where the page scrolls to."""
    from playwright.sync_api import expect

    from grants.cities.models import City

    grant_id = make.grant(db.session.get(City, people["city_id"])).id
    db.session.commit()
    db.session.remove()
    page = browser.sign_in(people["member"])
    page.goto(f"{browser.base_url}/grants/{grant_id}")
    typed = "Thanks! Our hall\u000b booking is confirmed."
    page.get_by_label("Your comment").fill(typed)
    page.get_by_role("button", name="Add comment").click()
    page.wait_for_url(re.compile(r".*#comments$"))
    expect(page.get_by_label("Your comment")).to_have_value(typed)
    beside = page.locator("#comments .flash-error")
    expect(beside).to_contain_text("a line break from a word processor")
    expect(beside).to_be_in_viewport()
    expect(page.locator("#comments")).to_contain_text("No comment yet.")
    shot(page, "comment-refused")
    page.get_by_label("Your comment").fill("Thanks! Our hall booking is confirmed.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator(".flash-success")).to_contain_text("Comment added")
    expect(page.get_by_label("Your comment")).to_have_value("")
