"""Missing exchange rates (issue 13, item 6): a refused submission names every missing currency
at once, and finance's dashboard and the rates page list the rates that reports wait for, with
a form that sets each."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import Factory
from tests.money_helpers import (
    Pilot,
    disbursed_grant,
    expense,
    month,
    new_report,
    refused,
    report_event,
    set_rate,
)


@pytest.fixture
def pilot(make: Factory) -> Pilot:
    return disbursed_grant(make)


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ",")


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start : html.index("</section>", start)]


def test_a_refused_submission_names_every_missing_currency_at_once(pilot: Pilot):
    set_rate(pilot.a, "NOK", "11.5000")
    report = new_report(
        pilot.member,
        pilot.id,
        "interim",
        [
            expense("M-1", "SEK", "550.00"),
            expense("M-2", "EUR", "100.00"),
            expense("M-3", "DKK", "746.04"),
            expense("M-4", "NOK", "115.00"),
            expense("M-5", "SEK", "10.00"),
        ],
    )
    body = refused(report_event(pilot.member, report["id"], "submit"), 409, "rate_missing")
    assert body["message"] == (
        f"No exchange rate for DKK and SEK in {month()}: finance has been told."
    )
    set_rate(pilot.a, "DKK", "7.4604")
    body = refused(report_event(pilot.member, report["id"], "submit"), 409, "rate_missing")
    assert body["message"] == f"No exchange rate for SEK in {month()}: finance has been told."
    set_rate(pilot.a, "SEK", "11.0000")
    r = report_event(pilot.member, report["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["total_eur"] == "260.91"  # 50.00 + 100.00 + 100.00 + 10.00 + 0.91


def test_three_missing_currencies_read_as_a_list(pilot: Pilot):
    report = new_report(
        pilot.member,
        pilot.id,
        "interim",
        [expense("L-1", c, "10.00") for c in ("PLN", "ISK", "DKK")],
    )
    body = refused(report_event(pilot.member, report["id"], "submit"), 409, "rate_missing")
    assert f"No exchange rate for DKK, ISK and PLN in {month()}" in body["message"]


def test_finance_dashboard_lists_the_rates_reports_wait_for_and_the_rates_page_sets_them(
    make: Factory, pages: Any
):
    one, other = disbursed_grant(make), disbursed_grant(make)
    first = new_report(one.member, one.id, "interim", [expense("A-1", "DKK", "74.60")])
    second = new_report(
        other.member,
        other.id,
        "interim",
        [expense("B-1", "DKK", "10.00"), expense("B-2", "SEK", "11.00")],
    )
    # A submitted report waits for nothing; nor does a report in EUR only.
    third_pilot = disbursed_grant(make)
    new_report(third_pilot.member, third_pilot.id, "interim", [expense("C-1", "EUR", "5.00")])
    refused(report_event(other.member, second["id"], "submit"), 409, "rate_missing")

    finance = pages(one.a.user)
    html = finance.get("/dashboard").text
    awaited = words(section(html, "rates-awaited"))
    assert "Exchange rates awaited 2" in awaited
    assert f"DKK in {month()}, awaited by the interim report of" in awaited
    assert f"SEK in {month()}, awaited by the interim report of" in awaited
    assert awaited.count("Harbour stories") == 3  # DKK: two reports; SEK: one
    assert f'href="/reports/{first["id"]}"' in section(html, "rates-awaited")
    assert f"/rates?month={month()}&amp;currency=DKK" in html

    rates_page = finance.get(f"/rates?month={month()}&currency=DKK").text
    assert 'id="currency" name="currency" value="DKK"' in rates_page  # filled in
    listed = section(rates_page, "awaited-heading")
    assert f"Units of DKK per 1 EUR in {month()}" in words(listed)
    assert f"Units of SEK per 1 EUR in {month()}" in words(listed)

    r = finance.post("/rates", {"month": month(), "currency": "DKK", "rate": "7.4604"})
    assert r.status_code == 302
    awaited = words(section(finance.get("/dashboard").text, "rates-awaited"))
    assert "DKK" not in awaited
    assert f"SEK in {month()}" in awaited
    assert "Exchange rates awaited 1" in awaited

    # The city can now submit its DKK report; the rate is the one finance set.
    r = report_event(one.member, first["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["expenses"][0]["amount_eur"] == "10.00"

    set_rate(one.a, "SEK", "11.0000")
    html = finance.get("/dashboard").text
    assert "No report waits for an exchange rate." in html


def test_a_city_reading_the_rates_page_sees_no_other_report(make: Factory, pages: Any):
    one, other = disbursed_grant(make), disbursed_grant(make)
    new_report(other.member, other.id, "interim", [expense("Z-1", "DKK", "10.00")])
    html = pages(one.member.user).get("/rates").text
    assert "waiting for" not in html
    assert "Harbour stories" not in html
