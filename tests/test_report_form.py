"""The city's report form (issue 13, items 2 and 5): running totals by category against the
budget, the warnings of each line beside it (saved, or as it is typed), future dates refused in
words beside the field, every typed value kept and every error listed at once in words, each
per-line field labelled with its line."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import io
import re
from typing import Any

import pytest

from grants.db import today
from grants.extensions import db
from tests.factories import Factory
from tests.money_helpers import Pilot, disbursed_grant, expense, new_report
from tests.test_pages_browser import CHROMIUM, SCREENSHOTS, Browser, browser

__all__ = ["browser"]  # the browser fixture of the page walk


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)  # one budget line: fees, 4,000.00 EUR


def words(html: str) -> str:
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", text).replace(" ,", ",").replace(" :", ":").strip()


def label_of(html: str, field_id: str) -> str:
    match = re.search(rf'<label for="{re.escape(field_id)}">(.*?)</label>', html, re.S)
    assert match, f"no label for {field_id}"
    return words(match.group(1))


def totals_row(html: str, category: str) -> list[str]:
    match = re.search(rf'<tr data-total-category="{category}".*?</tr>', html, re.S)
    assert match, category
    return [words(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(0), re.S)]


def totals_all(html: str) -> list[str]:
    match = re.search(r"<tr data-total-all.*?</tr>", html, re.S)
    assert match
    return [words(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(0), re.S)]


def form_line(i: int, **fields: str) -> dict[str, str]:
    base = {
        "invoice_number": f"INV-{i + 1}",
        "invoice_date": today().isoformat(),
        "payment_date": today().isoformat(),
        "supplier": f"Supplier {i + 1}",
        "description": "Storytellers",
        "category": "fees",
        "currency": "EUR",
        "amount": "100.00",
        "vat_amount": "0.00",
    }
    return {f"expenses-{i}-{k}": v for k, v in {**base, **fields}.items()}


def new_form(pilot: Pilot) -> str:
    return f"/grants/{pilot.id}/reports/new?kind=interim"


# ---------------------------------------------------------------------------------------------
# Totals by category


def test_the_empty_form_shows_the_budget_per_category(pilot: Pilot, pages: Any):
    html = pages(pilot.member.user).get(new_form(pilot)).text
    assert totals_row(html, "fees") == ["Fees", "4,000.00 EUR", "0.00 EUR", "4,000.00 EUR", "—"]
    assert totals_row(html, "venue") == ["Venue", "0.00 EUR", "0.00 EUR", "0.00 EUR", "—"]
    assert totals_all(html)[:4] == ["All categories", "4,000.00 EUR", "0.00 EUR", "4,000.00 EUR"]


def test_totals_add_eur_lines_as_typed_and_keep_other_currencies_apart(pilot: Pilot, pages: Any):
    city = pages(pilot.member.user)
    city.get(new_form(pilot))
    form = {
        "activities": "Six evenings",
        **form_line(0, amount="1 900,50"),  # as people type it
        **form_line(1, amount="99.49"),
        **form_line(2, currency="DKK", amount="746.04"),
        **form_line(3, currency="dkk", amount="3.96", category="venue"),
        **form_line(4, category="venue", amount="2500", supplier=""),  # refused: no supplier
    }
    r = city.post(new_form(pilot), form)
    assert r.status_code == 422
    html = r.text
    # 1,900.50 + 99.49 = 1,999.99 EUR of 4,000.00: 2,000.01 left.
    assert totals_row(html, "fees") == [
        "Fees",
        "4,000.00 EUR",
        "1,999.99 EUR",
        "2,000.01 EUR",
        "746.04 DKK",
    ]
    # Venue had no plan: 2,500.00 EUR over it.
    assert totals_row(html, "venue") == [
        "Venue",
        "0.00 EUR",
        "2,500.00 EUR",
        "−2,500.00 EUR (over the plan)",
        "3.96 DKK",
    ]
    assert totals_all(html) == [
        "All categories",
        "4,000.00 EUR",
        "4,499.99 EUR",
        "−499.99 EUR (over the plan)",
        "750.00 DKK",
    ]


# ---------------------------------------------------------------------------------------------
# Refusals: all errors at once, in words, values kept, labels with their line


def test_a_refused_form_keeps_every_value_and_lists_every_error_with_its_line(
    pilot: Pilot, pages: Any
):
    city = pages(pilot.member.user)
    city.get(new_form(pilot))
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    form = {
        "activities": "Six storytelling evenings",
        "participants": "About 240 residents",
        **form_line(0, supplier="", amount="1 900,00"),
        **form_line(1, invoice_date=tomorrow, payment_date="", amount="abc"),
        **form_line(2, invoice_number="INV-3", currency="DKK", amount="746.04"),
        "expenses-2-vat_recoverable": "y",
    }
    r = city.post(new_form(pilot), form)
    assert r.status_code == 422
    html = r.text
    summary = words(
        html[
            html.index('class="notice error-summary"') : html.index(
                "</ul>", html.index('class="notice error-summary"')
            )
        ]
    )
    assert "3 things to correct" in summary
    assert "Supplier, line 1:" in summary
    assert "Invoice date, line 2: An invoice date cannot lie in the future." in summary
    assert "Amount, VAT included, line 2:" in summary
    for internal in ("invoice_date", "supplier", "expenses-", "amount"):
        assert internal not in summary.replace("Amount", "")
    # Beside the field, too.
    assert re.search(
        r'id="expenses-1-invoice_date-error">\s*<li>An invoice date cannot lie in the future', html
    )
    # Every typed value is back as typed.
    for key, value in form.items():
        if key == "expenses-2-vat_recoverable":
            assert re.search(
                r'id="expenses-2-vat_recoverable" name="[^"]+" value="y" checked', html
            )
        elif key.endswith("-category"):
            assert re.search(rf'name="{key}".*?<option value="{value}" selected>', html, re.S)
        elif key in ("activities", "participants"):
            assert f">{value}</textarea>" in html
        else:
            assert f'name="{key}" value="{htmllib.escape(value)}"' in html, key
    # Nothing was filed.
    assert pilot.member.get(f"/grants/{pilot.id}/reports").get_json() == []


def test_every_line_field_is_labelled_with_its_line(pilot: Pilot, pages: Any):
    city = pages(pilot.member.user)
    report = new_report(
        pilot.member, pilot.id, "interim", [expense("L-1"), expense("L-2"), expense("L-3")]
    )
    html = city.get(f"/reports/{report['id']}/edit").text
    assert label_of(html, "expenses-1-amount") == "Amount, VAT included, line 2"
    assert label_of(html, "expenses-2-invoice_date") == "Invoice date, line 3"
    assert label_of(html, "expenses-0-category") == "Category, line 1"
    assert label_of(html, "expenses-2-vat_recoverable").endswith(", line 3")
    assert "Expense line <span data-line-number>3</span>" in html
    # The template app.js copies for a new line is numbered by it.
    assert "line <span data-line-number>__n__</span>" in html


def test_future_dates_are_capped_on_the_date_fields(pilot: Pilot, pages: Any):
    html = pages(pilot.member.user).get(new_form(pilot)).text
    for field in ("invoice_date", "payment_date"):
        assert re.search(
            rf'id="expenses-0-{field}" name="expenses-0-{field}" value="" max="{today()}"', html
        ), field
    assert 'data-not-future="An invoice date cannot lie in the future."' in html


def test_a_blank_added_line_is_not_an_error(pilot: Pilot, pages: Any):
    city = pages(pilot.member.user)
    city.get(new_form(pilot))
    blank = {
        "expenses-1-currency": "EUR",
        "expenses-1-vat_amount": "0.00",
        "expenses-1-invoice_number": "",
    }
    r = city.post(new_form(pilot), {"activities": "Evenings", **form_line(0), **blank})
    assert r.status_code == 302, words(r.text)[:500]
    reports = pilot.member.get(f"/grants/{pilot.id}/reports").get_json()
    assert len(reports[0]["expenses"]) == 1


# ---------------------------------------------------------------------------------------------
# Warnings on the form


def test_the_saved_lines_show_their_warnings_beside_them_without_other_ids(
    make: Factory, pages: Any
):
    one, other = disbursed_grant(make), disbursed_grant(make)
    theirs = new_report(
        one.member, one.id, "interim", [{**expense("DUP-9"), "supplier": "Harbour Hall"}]
    )
    mine = new_report(
        other.member,
        other.id,
        "interim",
        [{**expense("dup 9"), "supplier": "harbour hall", "amount": "12.00"}, expense("OK-1")],
    )
    html = pages(other.member.user).get(f"/reports/{mine['id']}/edit").text
    boxes = re.findall(r"<div class=\"line-warnings\".*?</div>", html, re.S)
    assert "Another expense line has the same supplier and invoice number." in words(boxes[0])
    assert "finance checks it" in words(boxes[0])
    assert words(boxes[1]) == ""
    other_id = theirs["expenses"][0]["id"]
    assert f"/reports/{theirs['id']}" not in html
    assert f"Line {other_id}" not in html

    # Finance reads it on the report page, with the other line linked.
    page = pages(one.a.user).get(f"/reports/{mine['id']}").text
    assert "Another expense line has the same supplier and invoice number." in page
    assert f'href="/reports/{theirs["id"]}">Line {other_id}, report {theirs["id"]}</a>' in page
    # The city's report page says it too, without the link.
    city_page = pages(other.member.user).get(f"/reports/{mine['id']}").text
    assert "Another expense line has the same supplier and invoice number." in city_page
    assert f'href="/reports/{theirs["id"]}"' not in city_page


def test_the_lines_being_typed_get_their_warnings_from_a_small_json_call(make: Factory, pages: Any):
    one, other = disbursed_grant(make), disbursed_grant(make)
    theirs = new_report(
        one.member, one.id, "interim", [{**expense("T-1"), "supplier": "Ferry Line"}]
    )
    city = pages(other.member.user)
    city.get(new_form(other))
    before = (other.start - dt.timedelta(days=2)).isoformat()
    form = {
        **form_line(0, supplier="FERRY-LINE", invoice_number="t 1", amount="5.00"),
        **form_line(1, supplier="Bakery", invoice_number="B-1"),
        **form_line(2, supplier="bakery", invoice_number="b1", amount="7.00"),
        **form_line(3, supplier="Ink", invoice_date=before, payment_date=before),
        "expenses-4-currency": "EUR",  # blank
    }
    r = city.post(f"/grants/{other.id}/reports/line-warnings", form)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    lines = r.get_json()["lines"]
    assert lines["0"] == [
        {
            "kind": "same_invoice",
            "text": "Another expense line has the same supplier and invoice number.",
        }
    ]
    assert lines["1"] == [
        {
            "kind": "same_invoice",
            "text": "Line 3 has the same supplier and invoice number.",
            "other_line": 3,
        }
    ]
    assert lines["2"][0]["text"] == "Line 2 has the same supplier and invoice number."
    assert lines["3"] == [{"kind": "outside_period", "text": "Dated outside the pilot period."}]
    assert lines["4"] == []
    assert "other_expense_id" not in r.text  # the form is the city's: no other line's id
    assert all(set(w) <= {"kind", "text", "other_line"} for ws in lines.values() for w in ws)
    assert theirs["expenses"][0]["id"] not in [w.get("other_line") for w in lines["0"]]

    # Editing a saved report: its own saved lines are not "another line".
    mine = new_report(other.member, other.id, "interim", [expense("OWN-1")])
    city.get(f"/reports/{mine['id']}/edit")
    r = city.post(
        f"/grants/{other.id}/reports/line-warnings",
        {
            "report_id": str(mine["id"]),
            **form_line(0, supplier="Supplier OWN-1", invoice_number="OWN-1"),
        },
    )
    assert r.get_json()["lines"]["0"] == []


def test_only_the_city_of_the_grant_asks_for_warnings(make: Factory, pages: Any):
    one, other = disbursed_grant(make), disbursed_grant(make)
    stranger = pages(other.member.user)
    r = stranger.post(f"/grants/{one.id}/reports/line-warnings", form_line(0))
    assert r.status_code == 404
    finance = pages(one.a.user)
    assert finance.post(f"/grants/{one.id}/reports/line-warnings", form_line(0)).status_code == 403


# ---------------------------------------------------------------------------------------------
# In the browser: app.js adds up as people type and asks for the warnings on change


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_in_the_browser_totals_follow_the_typing_and_warnings_come_on_change(
    make: Factory, live: Any, browser: Browser
):
    from playwright.sync_api import expect

    one, other = disbursed_grant(make), disbursed_grant(make)
    new_report(one.member, one.id, "interim", [{**expense("W-7"), "supplier": "Harbour Hall"}])
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    email = other.member.user.email
    # The browser's requests run on the server's threads: this thread keeps no transaction open.
    db.session.commit()
    db.session.remove()
    page = browser.sign_in(email)
    page.goto(f"{live.base_url}/grants/{other.id}/reports/new?kind=interim")
    fees = page.locator('tr[data-total-category="fees"]')
    every = page.locator("tr[data-total-all]")
    first = page.locator("[data-line]").nth(0)
    first.get_by_label("Category, line 1").select_option("fees")
    first.get_by_label("Amount, VAT included, line 1").fill("1 900,50")
    expect(fees.locator("[data-total-eur]")).to_have_text("1,900.50\u00a0EUR")
    expect(fees.locator("[data-total-left]")).to_have_text("2,099.50\u00a0EUR")

    page.get_by_role("button", name="Add an expense line").click()
    second = page.locator("[data-line]").nth(1)
    expect(second.locator("legend")).to_have_text("Expense line 2")
    second.get_by_label("Category, line 2").select_option("fees")
    second.get_by_label("Currency, line 2").fill("DKK")
    second.get_by_label("Amount, VAT included, line 2").fill("746.04")
    expect(fees.locator("[data-total-other]")).to_have_text("746.04\u00a0DKK")
    expect(fees.locator("[data-total-eur]")).to_have_text("1,900.50\u00a0EUR")
    second.get_by_label("Amount, VAT included, line 2").fill("")
    second.get_by_label("Currency, line 2").fill("EUR")
    second.get_by_label("Amount, VAT included, line 2").fill("2200")
    expect(every.locator("[data-total-left]")).to_have_text("\u2212100.50\u00a0EUR (over the plan)")

    # The other city's invoice, typed otherwise: the warning comes beside the line.
    first.get_by_label("Supplier, line 1").fill("HARBOUR-HALL")
    first.get_by_label("Invoice number, line 1").fill("w 7")
    first.get_by_label("Invoice number, line 1").press("Tab")
    expect(first.locator("[data-line-warnings]")).to_contain_text(
        "Another expense line has the same supplier and invoice number."
    )
    expect(second.locator("[data-line-warnings]")).to_have_text("")

    # A date in the future, refused in words beside the field before sending.
    second.get_by_label("Invoice date, line 2").fill(tomorrow)
    second.get_by_label("Invoice date, line 2").press("Tab")
    expect(second.locator("[data-future-error]")).to_have_text(
        "An invoice date cannot lie in the future."
    )
    second.get_by_label("Invoice date, line 2").fill(today().isoformat())
    second.get_by_label("Invoice date, line 2").press("Tab")
    expect(second.locator("[data-future-error]")).to_have_count(0)

    # Removing the first line renumbers the labels of the others.
    first.get_by_role("button", name="Remove this line (line 1)").click()
    expect(page.locator("[data-line]").nth(0).locator("legend")).to_have_text("Expense line 1")
    expect(page.get_by_label("Amount, VAT included, line 1")).to_have_value("2200")
    expect(fees.locator("[data-total-eur]")).to_have_text("2,200.00\u00a0EUR")
    page.screenshot(path=str(SCREENSHOTS / "report-form-totals.png"), full_page=True)


def test_uploading_a_receipt_already_on_another_line_says_so_and_keeps_it(
    make: Factory, pages: Any
):
    one, other = disbursed_grant(make), disbursed_grant(make)
    theirs = new_report(one.member, one.id, "interim", [expense("U-1")])
    mine = new_report(other.member, other.id, "interim", [expense("U-2"), expense("U-3")])
    scan = b"%PDF-1.4\n% invoice U-1\n%%EOF\n"
    first = pages(one.member.user)
    first.get(f"/reports/{theirs['id']}")
    r = first.post(
        f"/reports/{theirs['id']}/receipts",
        {"file": (io.BytesIO(scan), "u1.pdf"), "expense_id": str(theirs["expenses"][0]["id"])},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    assert "same file" not in first.get(r.headers["Location"]).text
    city = pages(other.member.user)
    city.get(f"/reports/{mine['id']}")
    r = city.post(
        f"/reports/{mine['id']}/receipts",
        {"file": (io.BytesIO(scan), "again.pdf"), "expense_id": str(mine["expenses"][1]["id"])},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    page = city.get(r.headers["Location"]).text
    assert "Receipt again.pdf uploaded." in page
    assert "The same file is on another expense line: it is kept" in page
    assert "The same receipt file is on another expense line." in page
    assert f"/reports/{theirs['id']}" not in page
