"""Pages read amounts as people type them; the JSON API stays strict (issue 13, item 2)."""

from __future__ import annotations

from typing import Any

import pytest

from grants.money import typed_amount
from tests.money_helpers import submitted_grant


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1900", "1900.00"),
        ("1900.5", "1900.50"),
        ("1900,5", "1900.50"),
        ("1 900,00", "1900.00"),
        ("1\u00a0900,00", "1900.00"),
        ("1\u202f900.00", "1900.00"),
        ("1.900,00", "1900.00"),
        ("1,900.00", "1900.00"),
        ("1'900.50", "1900.50"),
        ("1.234.567,89", "1234567.89"),
        ("1,900", "1900.00"),
        (" 42 ", "42.00"),
        ("0,05", "0.05"),
    ],
)
def test_what_people_type_is_read_as_the_amount_they_mean(typed: str, read: str) -> None:
    assert typed_amount(typed) == read


@pytest.mark.parametrize("typed", ["abc", "1.2.3", "1900.123", "-5", "1e3", "12,34,56", "", ","])
def test_what_is_not_an_amount_is_left_for_the_schema_to_refuse(typed: str) -> None:
    assert typed_amount(typed) == typed.strip()


def test_a_proposal_and_its_approval_take_amounts_as_typed_on_the_pages(
    make: Any,
    pages: Any,
) -> None:
    pilot = submitted_grant(make, "2000.00")
    officer = pages(pilot.a.user)
    officer.get(f"/grants/{pilot.id}")
    response = officer.post(f"/grants/{pilot.id}/events/approve", {"approved_amount": "1.500,00"})
    assert response.status_code == 302
    assert pilot.get()["approved_amount"] == "1500.00"
    member = pages(pilot.member.user)
    member.get("/grants/new")
    # (the city's proposal form: an amount with a space and a decimal comma)
    response = member.post(
        "/grants/new",
        {
            "title": "Typed amounts",
            "summary": "A pilot",
            "start_date": pilot.start.isoformat(),
            "end_date": pilot.end.isoformat(),
            "budget_lines-0-category": "fees",
            "budget_lines-0-description": "Artists",
            "budget_lines-0-amount": "1 234,50",
        },
    )
    assert response.status_code == 302, response.text
    grant_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert pilot.member.get(f"/grants/{grant_id}").get_json()["requested_amount"] == "1234.50"


def test_the_api_stays_strict(make: Any) -> None:
    pilot = submitted_grant(make, "2000.00")
    response = pilot.a.fire(pilot.id, "approve", approved_amount="1500")
    assert response.status_code == 422
    assert "approved_amount" in response.get_json()["errors"]["json"]
