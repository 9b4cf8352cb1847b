"""The web interface in a real browser: a pilot's whole life through the pages, by four users.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run`` from
Debian's packages; no browser is ever downloaded) against the test app served over HTTP on
127.0.0.1. Every request the browser makes is recorded: none may leave that host, and no
page may break its Content-Security-Policy.

Every page state the walk reaches is checked at a desktop's 1366x900 and a phone's 390x844
(``check``): the document does not scroll sideways, no cell of a table, input or the state
diagram lies outside the window (on a phone the tables become stacked rows, each cell named by
its ``data-label``), axe-core finds no violation of any impact, and a screenshot of each size is
written to ``test-artifacts/screenshots/``. axe-core comes from the npm package installed in
``tests/browser`` (``.ci/run`` runs npm); it is evaluated into the page by the test alone (the
app never serves it), and where it is not installed the accessibility part says so and is
skipped while the rest of the checks run.
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
AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
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

    def sign_in(self, email: str, *, width: int = 1366, height: int = 900) -> Any:
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


# What a person works with: every cell of a table, every input and button, the state diagram.
# Each that is shown must lie inside the window (not cut off, not behind a sideways scroll).
_OUTSIDE = """() => {
  const width = window.innerWidth;
  const out = new Set();
  const selector = "table th, table td, input:not([type=hidden]), select, textarea, button, "
    + "svg.state-diagram";
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not shown (a closed <details>)
    if (el.closest(".visually-hidden, .skip-link")) continue;
    if (box.left >= -0.5 && box.right <= width + 0.5) continue;
    const table = el.closest("table");
    let what;
    if (table && (el.tagName === "TD" || el.tagName === "TH")) {
      const caption = table.querySelector("caption");
      const head = table.querySelectorAll("thead th")[el.cellIndex];
      what = `table "${(caption ? caption.textContent : table.className).trim().slice(0, 40)}"`
        + `, column "${(head ? head.textContent : el.cellIndex).toString().trim()}"`;
    } else {
      what = `${el.tagName.toLowerCase()} "${(el.id || el.getAttribute("name")
        || el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 40)}"`;
    }
    out.add(`${what} reaches ${Math.round(box.left)}..${Math.round(box.right)} px`);
  }
  return [...out];
}"""

# What makes a page wider than the window: the outermost elements that stick out.
_WIDEST = """() => {
  const width = window.innerWidth;
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 0.5 || box.width === 0) continue;
    const parent = el.parentElement.getBoundingClientRect();
    if (parent.right > width + 0.5 && el.parentElement !== document.body) continue;
    out.push(`${el.tagName.toLowerCase()}.${el.className} to ${Math.round(box.right)} px`);
  }
  return out.slice(0, 3).join(", ");
}"""

# On a phone a table is read as stacked rows: each data cell says which column it is.
_UNLABELLED = """() => {
  const out = [];
  for (const cell of document.querySelectorAll("table tbody td")) {
    const box = cell.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (cell.hasAttribute("colspan")) continue;  // a row that spans them all ("No line yet.")
    if (!(cell.getAttribute("data-label") || "").trim()) {
      const table = cell.closest("table");
      const caption = table.querySelector("caption");
      out.push((caption ? caption.textContent : table.className).trim().slice(0, 40));
    }
  }
  return [...new Set(out)];
}"""

_AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  const where = n => n.target.join(" ") + " " + n.html.slice(0, 90) + (n.failureSummary
    ? " - " + n.failureSummary.split("\\n").slice(1).join(" ").trim().slice(0, 160) : "");
  return result.violations.map(
    v => `${v.id} (${v.impact}): ${v.help}; ` + v.nodes.slice(0, 4).map(where).join(" | "));
}"""


class Checks:
    """Each page state at both sizes: no sideways scroll, nothing working outside the window,
    stacked rows labelled on a phone, axe-core clean, a screenshot of each size."""

    def __init__(self) -> None:
        self.axe_source = AXE.read_text(encoding="utf-8") if AXE.exists() else None
        self.problems: list[str] = []
        self.states: list[str] = []

    def __call__(self, page: Any, name: str) -> None:
        self.states.append(name)
        original = page.viewport_size
        try:
            for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
                page.set_viewport_size(size)
                page.wait_for_timeout(50)  # the layout settles after the resize
                self._check(page, f"{name} ({size_name} {size['width']}x{size['height']})")
                page.screenshot(path=str(SCREENSHOTS / f"{name}-{size_name}.png"), full_page=True)
        finally:
            page.set_viewport_size(original)

    def _check(self, page: Any, where: str) -> None:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            wide = page.evaluate(_WIDEST)
            self.problems.append(
                f"{where}: the page scrolls sideways ({scroll} px in {inner}): {wide}"
            )
        for item in page.evaluate(_OUTSIDE):
            self.problems.append(f"{where}: outside the window: {item}")
        if page.viewport_size["width"] == PHONE["width"]:
            for table in page.evaluate(_UNLABELLED):
                self.problems.append(f"{where}: cells without data-label in table {table!r}")
        if self.axe_source is not None:
            if not page.evaluate("typeof window.axe !== 'undefined'"):
                page.evaluate(self.axe_source)  # by the test alone, past the page's CSP
            for violation in page.evaluate(_AXE_RUN):
                self.problems.append(f"{where}: axe: {violation}")

    def assert_clean(self) -> None:
        assert self.states, "no page state was checked"
        (SCREENSHOTS / "problems.txt").write_text("\n".join(self.problems) + "\n")
        assert not self.problems, "\n".join(self.problems)
        if self.axe_source is None:
            pytest.skip(
                f"the layout of {len(self.states)} page states was checked; axe-core is not "
                f"installed ({AXE} is missing: npm install --prefix tests/browser, as .ci/run "
                "does), so the accessibility checks did not run"
            )


@pytest.fixture
def check() -> Checks:
    return Checks()


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


def step_buttons(page: Any) -> list[str]:
    """The next steps offered in "What you can do now", in order (not the ones set apart)."""
    return [
        t.strip()
        for t in page.locator(".actions form.step button, .actions p > a.button").all_inner_texts()
    ]


def test_a_pilots_whole_life_through_the_pages(
    browser: Browser, people: dict, app_ctx: Any, check: Checks
):
    from playwright.sync_api import expect

    base = browser.base_url
    start, end = today(), today() + dt.timedelta(days=90)
    month = today().strftime("%Y-%m")

    # 1. A city member proposes a pilot with two budget lines, then submits it.
    member = browser.sign_in(people["member"])
    expect(member.get_by_role("heading", level=1)).to_have_text(re.compile("Svendborg"))
    check(member, "city-dashboard")
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
    rows.nth(2).get_by_role("button", name=re.compile("^Remove budget line")).click()
    expect(rows).to_have_count(2)
    for i, (category, description, amount) in enumerate(
        [("fees", "Storytellers' fees", "1500.00"), ("venue", "Harbour warehouse", "800.50")]
    ):
        rows.nth(i).get_by_label(re.compile("^Category")).select_option(category)
        rows.nth(i).get_by_label(re.compile("^Description")).fill(description)
        rows.nth(i).get_by_label(re.compile(r"^Amount \(EUR\)")).fill(amount)
    expect(member.locator("[data-line-total]")).to_have_text(
        "Total of the lines: 2,300.50\u00a0EUR"
    )
    check(member, "proposal-form")
    member.get_by_role("button", name="Save as draft").click()
    expect(member.locator(".flash")).to_contain_text("Proposal saved as a draft")
    grant_url = member.url
    grant_id = int(grant_url.rstrip("/").rsplit("/", 1)[1])
    expect(member.locator(".figures")).to_contain_text("2,300.50\u00a0EUR")
    expect(member.locator(".sd-state.current")).to_have_attribute("data-state", "draft")
    check(member, "grant-draft-city")
    member.get_by_role("button", name="Submit proposal").click()
    expect(member.locator(".flash")).to_contain_text("Done: submit proposal")
    expect(member.locator(".grant-head .badge")).to_have_text("Submitted")
    check(member, "grant-submitted-city")

    # 2. A finance officer approves it with a comment, sets a rate and authorises the advance.
    officer_a = browser.sign_in(people["officer_a"])
    expect(officer_a.locator("#to-decide ~ ul")).to_contain_text("Harbour stories")
    check(officer_a, "finance-dashboard-to-decide")
    officer_a.get_by_role("link", name="Harbour stories").first.click()
    # Beside the approval, the figures that decide it: the title's headroom.
    expect(officer_a.locator(".headroom")).to_contain_text("Available to approve")
    expect(officer_a.locator(".headroom")).to_contain_text("2,300.50\u00a0EUR")
    assert step_buttons(officer_a)[0] == "Approve"
    check(officer_a, "grant-to-decide-finance")
    # More than requested is refused in words, and what was typed stays in the boxes.
    officer_a.locator("#approved_amount").fill("2 400,00")
    officer_a.locator("#comment-approve").fill("A fine pilot for the title's aims.")
    officer_a.get_by_role("button", name="Approve").click()
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Submitted")
    expect(officer_a.locator(".actions .flash-error")).to_be_visible()
    expect(officer_a.locator("#approved_amount")).to_have_value("2 400,00")
    expect(officer_a.locator("#comment-approve")).to_have_value(
        "A fine pilot for the title's aims."
    )
    check(officer_a, "grant-approval-refused-finance")
    officer_a.locator("#approved_amount").fill("2 300,50")  # as people type it
    officer_a.get_by_role("button", name="Approve").click()
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Approved")
    expect(officer_a.locator("table.history")).to_contain_text("A fine pilot")
    # The advance waits for the grant agreement: the city signs it, finance countersigns it.
    actions = officer_a.locator(".actions")
    expect(actions.locator(".notice")).to_contain_text("waiting for the city")
    check(officer_a, "grant-approved-agreement-awaited-finance")
    member.goto(grant_url)
    assert step_buttons(member)[0] == "Sign the agreement"
    check(member, "grant-approved-to-sign-city")
    member.get_by_label(re.compile("^Your full name")).fill("Mette Jensen")
    member.get_by_role("button", name="Sign the agreement").click()
    officer_a.goto(grant_url)
    assert step_buttons(officer_a)[0] == "Countersign the agreement"
    expect(actions).to_contain_text("Mette Jensen")
    officer_a.get_by_role("button", name="Countersign the agreement").click()
    # The next step is the advance, with its default amount shown; terminating is set apart.
    expect(actions.locator("form.step button").first).to_have_text("Authorise the advance")
    assert step_buttons(officer_a)[0] == "Authorise the advance"
    expect(actions.get_by_label("Amount of the advance (EUR)")).to_have_value("1150.25")
    expect(actions.locator("form.step").first).to_contain_text("1,150.25\u00a0EUR")
    expect(actions.locator("details.danger-zone")).to_contain_text("Terminate")
    expect(actions.locator("details.danger-zone")).not_to_have_attribute("open", "")
    expect(actions.locator("form.step")).not_to_contain_text(["Terminate"])
    check(officer_a, "grant-approved-finance")
    officer_a.get_by_role("button", name="Authorise the advance").click()
    expect(officer_a.locator(".flash")).to_contain_text("advance payout is authorised")
    expect(officer_a.locator("#payouts")).to_contain_text("Advance 1,150.25\u00a0EUR")
    # The officer who authorised it is told that another must confirm it: no button.
    expect(officer_a.get_by_role("button", name="Confirm paid")).to_have_count(0)
    expect(officer_a.locator("#payouts")).to_contain_text("another finance officer confirms it")
    check(officer_a, "grant-advance-authorised-finance")
    officer_a.goto(f"{base}/rates")
    officer_a.get_by_label("Month").last.fill(month)
    officer_a.get_by_label("Currency").fill("DKK")
    officer_a.get_by_label("Units per 1 EUR").fill("7.4604")
    officer_a.get_by_role("button", name="Save rate").click()
    expect(officer_a.locator("table")).to_contain_text("7.4604")
    check(officer_a, "rates")
    officer_a.goto(f"{base}/dashboard")
    expect(officer_a.locator("#to-confirm")).to_contain_text("You authorised this payout")
    check(officer_a, "finance-dashboard-own-payout")

    # 3. A second officer confirms it paid, from the work queue.
    officer_b = browser.sign_in(people["officer_b"])
    queue = officer_b.locator("#to-confirm")
    expect(queue).to_contain_text("Advance 1,150.25\u00a0EUR")
    check(officer_b, "finance-dashboard-to-confirm")
    queue.get_by_label(re.compile("^Bank reference")).fill("BANK-2025-0001")
    queue.get_by_role("button", name="Confirm paid").click()
    expect(officer_b.locator(".flash")).to_contain_text("confirmed as paid")
    officer_b.goto(grant_url)
    expect(officer_b.locator(".grant-head .badge")).to_have_text("Advance paid")
    check(officer_b, "grant-advance-paid-finance")

    # 4. The city files the interim report (EUR and DKK lines) with a receipt, and submits it.
    member.goto(grant_url)
    assert step_buttons(member)[0] == "File the interim report"
    check(member, "grant-advance-paid-city")
    member.get_by_role("link", name="File the interim report").click()
    member.get_by_label("Activities").fill("Six storytelling evenings.")
    member.get_by_label("Participants").fill("About 240 residents.")
    lines = member.locator("[data-line]")
    member.get_by_role("button", name="Add an expense line").click()
    expect(lines).to_have_count(2)
    for i, (number, currency, amount) in enumerate(
        [("INV-1", "EUR", "600.00"), ("F-2025-17", "DKK", "3730.20")]
    ):
        fill_expense_line(lines.nth(i), number, start, currency, amount)
    check(member, "report-form-city")
    member.get_by_role("button", name="Save report").click()
    expect(member.locator(".flash")).to_contain_text("interim report is saved as a draft")
    member.get_by_label("Receipt file").set_input_files(
        files=[{"name": "invoice-1.pdf", "mimeType": "application/pdf", "buffer": RECEIPT}]
    )
    member.get_by_label("For the expense line").select_option(label="INV-1 — Supplier of INV-1")
    member.get_by_role("button", name="Upload receipt").click()
    expect(member.locator(".flash")).to_contain_text("Receipt invoice-1.pdf uploaded")
    expect(member.locator("table.expenses")).to_contain_text("invoice-1.pdf")
    check(member, "report-draft-city")
    member.get_by_role("button", name="Submit report").click()
    expect(member.locator(".grant-head, .meta").first).to_contain_text("Submitted")
    expect(member.locator("table.expenses")).to_contain_text("7.4604")
    # 3730.20 DKK / 7.4604 = 500.00 EUR
    expect(member.locator(".figures")).to_contain_text("1,100.00\u00a0EUR")
    report_url = member.url
    check(member, "report-submitted-city")

    # 5. The finance officer accepts it, marking part of one line ineligible with a reason.
    officer_a.goto(f"{base}/dashboard")
    check(officer_a, "finance-dashboard-to-verify")
    officer_a.locator("#to-verify ~ ul").get_by_role("link").first.click()
    assert officer_a.url == report_url
    expense_ids = [
        int(re.search(r"adjust-(\d+)-", name).group(1))
        for name in officer_a.locator("input[name$='-eligible_eur']").evaluate_all(
            "els => els.map(e => e.name)"
        )
    ]
    # Each line's inputs say which line they belong to.
    expect(officer_a.get_by_label("Eligible EUR, line F-2025-17")).to_have_count(1)
    check(officer_a, "report-to-verify-finance")
    officer_a.locator(f"#adjust-{expense_ids[1]}-eligible_eur").fill("450.00")
    officer_a.locator(f"#adjust-{expense_ids[1]}-reason").fill("One evening fell outside the plan.")
    officer_a.get_by_role("button", name="Accept the report").click()
    expect(officer_a.locator(".flash")).to_contain_text("Report accepted")
    expect(officer_a.locator(".figures")).to_contain_text("1,050.00\u00a0EUR")
    check(officer_a, "report-accepted-finance")
    officer_a.goto(grant_url)
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Interim report accepted")
    officer_a.get_by_label("Your comment").fill("Mentor: please look at the audience figures.")
    officer_a.get_by_label("Internal (staff and mentors)").check()
    officer_a.get_by_role("button", name="Add comment").click()
    expect(officer_a.locator("#comments")).to_contain_text("internal")
    check(officer_a, "grant-interim-accepted-finance")

    # 6. An auditor requests a statement of the grant and downloads it.
    auditor = browser.sign_in(people["auditor"])
    check(auditor, "auditor-dashboard")
    auditor.get_by_role("link", name="Financial statements").click()
    auditor.get_by_label("Grant", exact=True).select_option(str(grant_id))
    auditor.get_by_role("button", name="Request grant statement").click()
    item = auditor.locator(".export").first
    expect(item.locator("[data-export-status]")).to_have_text("Finished", timeout=30_000)
    with auditor.expect_download() as download_info:
        item.get_by_role("link", name=re.compile("^Download")).click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    check(auditor, "statements")
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()), read_only=True)
    summary = workbook[workbook.sheetnames[0]]
    cells = [str(c) for row in summary.iter_rows(values_only=True) for c in row if c is not None]
    assert "Harbour stories" in cells
    workbook.close()
    auditor.goto(grant_url)
    expect(auditor.locator("table.history")).to_contain_text(
        re.compile("report accept|Accept the report")
    )
    expect(auditor.locator("table.history")).to_contain_text(
        re.compile("export downloaded|Statement downloaded")
    )
    expect(auditor.get_by_role("button", name="Add comment")).to_have_count(0)
    check(auditor, "grant-interim-accepted-auditor")

    # The mentor and the admin see it too; the city does not see the internal comment.
    mentor = browser.sign_in(people["mentor"])
    expect(mentor.locator("main")).to_contain_text("Harbour stories")
    check(mentor, "mentor-dashboard")
    mentor.goto(grant_url)
    expect(mentor.locator("#comments")).to_contain_text("audience figures")
    check(mentor, "grant-interim-accepted-mentor")
    admin = browser.sign_in(people["admin"])
    check(admin, "admin-dashboard")
    for link, name in (("Grants", "grant-list"), ("Cities", "cities"), ("Users", "users")):
        admin.locator(".site-nav").get_by_role("link", name=link).click()
        check(admin, name)
    admin.get_by_role("link", name=people["member"]).click()
    check(admin, "user")
    admin.goto(f"{base}/admin/cities/{people['city_id']}")
    expect(admin.get_by_role("heading", level=1)).to_contain_text("Svendborg")
    check(admin, "city")
    member.goto(grant_url)
    expect(member.locator(".sd-state.current")).to_have_attribute("data-state", "interim_reported")
    expect(member.locator("#comments")).not_to_contain_text("audience figures")

    # 7. The final report: once accepted, the balance is the next step and closing waits for it.
    assert step_buttons(member)[0] == "File the final report"
    member.get_by_role("link", name="File the final report").click()
    member.get_by_label("Activities").fill("Four more evenings and a closing festival.")
    member.get_by_label("Participants").fill("About 400 residents.")
    fill_expense_line(member.locator("[data-line]").first, "INV-9", start, "EUR", "1000.00")
    member.get_by_role("button", name="Save report").click()
    expect(member.locator(".flash")).to_contain_text("final report is saved as a draft")
    member.get_by_role("button", name="Submit report").click()
    expect(member.locator(".meta").first).to_contain_text("Submitted")
    officer_a.goto(member.url)
    officer_a.get_by_role("button", name="Accept the report").click()
    expect(officer_a.locator(".flash")).to_contain_text("Report accepted")
    officer_a.goto(grant_url)
    expect(officer_a.locator(".grant-head .badge")).to_have_text("Final report accepted")
    # Eligible 1,050.00 + 1,000.00 = 2,050.00; paid 1,150.25: 899.75 due to the city.
    expect(officer_a.locator(".figures").first).to_contain_text("899.75\u00a0EUR")
    assert step_buttons(officer_a)[0] == "Authorise the balance"
    expect(officer_a.get_by_label("Amount of the balance (EUR)")).to_have_value("899.75")
    expect(officer_a.locator(".actions form.step").first).to_contain_text("899.75\u00a0EUR")
    expect(officer_a.get_by_role("button", name="Close grant")).to_have_count(0)
    expect(officer_a.locator(".actions .notice")).to_contain_text("Close grant")
    check(officer_a, "grant-balance-due-finance")
    officer_a.get_by_role("button", name="Authorise the balance").click()
    expect(officer_a.locator(".flash")).to_contain_text("balance payout is authorised")
    officer_b.goto(grant_url)
    officer_b.get_by_label("Bank reference").fill("BANK-2025-0002")
    officer_b.get_by_role("button", name="Confirm paid").click()
    expect(officer_b.locator(".flash")).to_contain_text("confirmed as paid")
    # Nothing is owed either way: closing is the next step.
    assert step_buttons(officer_b)[0] == "Close grant"
    check(officer_b, "grant-ready-to-close-finance")
    officer_b.get_by_role("button", name="Close grant").click()
    expect(officer_b.locator(".grant-head .badge")).to_have_text("Closed")
    check(officer_b, "grant-closed-finance")
    member.goto(grant_url)
    expect(member.locator(".actions")).to_contain_text("No action of yours is due")
    check(member, "grant-closed-city")

    check.assert_clean()


def fill_expense_line(line: Any, number: str, on: dt.date, currency: str, amount: str) -> None:
    line.get_by_label(re.compile("^Invoice number")).fill(number)
    line.get_by_label(re.compile("^Invoice date")).fill(on.isoformat())
    line.get_by_label(re.compile("^Payment date")).fill(on.isoformat())
    line.get_by_label(re.compile("^Supplier")).fill(f"Supplier of {number}")
    line.get_by_label(re.compile("^Category")).select_option("fees")
    line.get_by_label(re.compile("^Description")).fill("Storytellers")
    line.get_by_label(re.compile("^Currency")).fill(currency)
    line.get_by_label(re.compile("^Amount, VAT included")).fill(amount)


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
    browser: Browser, people: dict, make: Any, check: Checks
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
    beside = page.locator("#comments").get_by_text(re.compile("a line break from a word processor"))
    expect(beside).to_be_visible()
    expect(beside).to_be_in_viewport()
    expect(page.locator("#comments")).to_contain_text("No comment yet.")
    check(page, "comment-refused")
    page.get_by_label("Your comment").fill("Thanks! Our hall booking is confirmed.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator(".flash-success")).to_contain_text("Comment added")
    expect(page.get_by_label("Your comment")).to_have_value("")
    check(page, "comment-added")
    check.assert_clean()


def test_the_pages_off_the_walk_pass_the_same_checks(
    browser: Browser, people: dict, make: Any, check: Checks
):
    """Sign-in, a refused proposal, the edit form, settings, bank accounts, the programme
    budget, a city's admin page and an error page: the same checks at both sizes."""
    from playwright.sync_api import expect

    from grants.cities.models import City, Title

    city = db.session.get(City, people["city_id"])
    draft_id = make.grant(city, state="draft").id
    year = db.session.scalar(select(Title.year).where(Title.city_id == city.id))
    db.session.commit()
    db.session.remove()
    base = browser.base_url

    context = browser.browser.new_context(viewport=DESKTOP)
    context.on("request", lambda request: browser.requests.append(request.url))
    signed_out = context.new_page()
    signed_out.goto(f"{base}/login")
    check(signed_out, "login")
    context.close()

    member = browser.sign_in(people["member"])
    member.goto(f"{base}/grants/new")
    member.get_by_role("button", name="Save as draft").click()
    expect(member.locator(".field-errors").first).to_be_visible()
    check(member, "proposal-form-refused")
    member.goto(f"{base}/grants/{draft_id}/edit")
    check(member, "proposal-edit")
    for path, name in (
        ("/settings", "settings"),
        (f"/cities/{people['city_id']}/bank-account", "bank-account-city"),
        ("/grants/999999", "error-not-found"),
        ("/title-years", "error-forbidden"),  # staff only: 403
    ):
        member.goto(f"{base}{path}")
        check(member, name)
    expect(member.get_by_role("heading", level=1)).to_be_visible()

    officer = browser.sign_in(people["officer_a"])
    for path, name in (
        ("/bank-accounts", "bank-accounts-to-verify"),
        (f"/cities/{people['city_id']}/bank-account", "bank-account-finance"),
        ("/title-years", "programme-budget"),
        (f"/title-years/{year}", "programme-budget-year"),
    ):
        officer.goto(f"{base}{path}")
        check(officer, name)
    check.assert_clean()
