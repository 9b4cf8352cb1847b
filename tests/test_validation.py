"""Bad input is refused with 422 (or 400 for broken JSON), field by field, and nothing is stored.

api.md, "Conventions": money in is a JSON string ``^[0-9]{1,7}\\.[0-9]{2}$``, greater than zero;
anything else is 422. Unknown fields are refused. Errors have one shape, ``{code, status,
message, errors}``, with ``errors`` mapping location → field → messages, and never a trace.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.factories import Caller, Factory

MONEY_OUT = re.compile(r"^-?[0-9]+\.[0-9]{2}$")

BAD_AMOUNTS = [
    pytest.param("4999.999", id="three-decimals"),
    pytest.param(4999.99, id="json-number"),
    pytest.param(1500, id="json-integer"),
    pytest.param("-1.00", id="negative"),
    pytest.param("0.00", id="zero"),
    pytest.param("abc", id="letters"),
    pytest.param("1e3", id="exponent"),
    pytest.param("NaN", id="nan"),
    pytest.param("Infinity", id="infinity"),
    pytest.param("10000000.00", id="absurdly-large"),
    pytest.param("", id="empty"),
    pytest.param(None, id="null"),
    pytest.param("12,50", id="decimal-comma"),
    pytest.param("1500", id="no-decimals"),
    pytest.param("1500.0", id="one-decimal"),
    pytest.param("+100.00", id="plus-sign"),
    pytest.param(" 100.00", id="leading-space"),
    pytest.param("100.00\n", id="trailing-newline"),
    pytest.param("\uff11\uff10\uff10.00", id="fullwidth-digits"),
    pytest.param(["100.00"], id="list"),
]


def assert_error(response: Any, code: int) -> dict[str, Any]:
    """The api.md error shape, with no stack trace; returns the body."""
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert 'File "' not in text
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] == {400: "Bad Request", 422: "Unprocessable Entity"}[code]
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


def assert_messages(errors: dict[str, Any], expected: dict[str, list[str]]) -> None:
    """``errors`` maps exactly the expected items to exactly the expected fields, with text."""
    assert {k: sorted(v) for k, v in errors.items()} == expected
    for fields in errors.values():
        for messages in fields.values():
            assert messages
            assert all(isinstance(m, str) and m for m in messages)


def proposal(city: Any, *amounts: Any, **extra: Any) -> dict[str, Any]:
    title = city.titles[0]
    return {
        "title": "Harbour stories",
        "summary": "Stories from the harbour",
        "start_date": title.valid_from.isoformat(),
        "end_date": title.valid_until.isoformat(),
        "budget_lines": [
            {"category": "fees", "description": f"Line {i}", "amount": a}
            for i, a in enumerate(amounts)
        ],
        **extra,
    }


def grants_seen(caller: Caller) -> list[dict[str, Any]]:
    response = caller.get("/grants")
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == len(response.get_json())
    return response.get_json()


@pytest.fixture
def city(make: Factory) -> Any:
    return make.city()


@pytest.fixture
def member(make: Factory, city: Any) -> Caller:
    return make.as_role("city_member", city=city)


@pytest.fixture
def finance(make: Factory) -> Caller:
    return make.as_role("finance_officer")


# ---------------------------------------------------------------------------------------------
# Money in


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_budget_amount_is_refused_and_nothing_is_stored(member, finance, city, amount):
    response = member.post("/grants", proposal(city, "100.00", amount))

    body = assert_error(response, 422)
    assert list(body["errors"]) == ["json"]
    assert list(body["errors"]["json"]) == ["budget_lines"]
    # The second line (index 1) is the bad one, and only its amount is named.
    assert_messages(body["errors"]["json"]["budget_lines"], {"1": ["amount"]})
    assert grants_seen(member) == []
    assert grants_seen(finance) == []


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_a_bad_amount_in_an_edit_leaves_the_proposal_as_it_was(member, city, amount):
    created = member.post("/grants", proposal(city, "800.50")).get_json()

    response = member.patch(
        f"/grants/{created['id']}",
        {"budget_lines": [{"category": "venue", "description": "Hall", "amount": amount}]},
    )

    body = assert_error(response, 422)
    assert "amount" in body["errors"]["json"]["budget_lines"]["0"]
    after = member.get(f"/grants/{created['id']}").get_json()
    assert after["requested_amount"] == "800.50"
    assert [(b["category"], b["amount"]) for b in after["budget_lines"]] == [("fees", "800.50")]
    assert after["updated_at"] == created["updated_at"]


@pytest.mark.parametrize(
    ("amounts", "requested"),
    [
        (("0.01",), "0.01"),
        (("2499.99", "2500.00"), "4999.99"),
        (("0.10", "1.05", "100.00"), "101.15"),
        (("9999999.99",), "9999999.99"),
    ],
)
def test_good_amounts_are_kept_to_the_cent(member, city, amounts, requested):
    response = member.post("/grants", proposal(city, *amounts))

    assert response.status_code == 201, response.get_json()
    grant = response.get_json()
    assert grant["requested_amount"] == requested
    assert [b["amount"] for b in grant["budget_lines"]] == list(amounts)


def test_requested_amount_cannot_be_typed_in(member, city):
    response = member.post("/grants", proposal(city, "100.00", requested_amount="100.00"))

    body = assert_error(response, 422)
    assert "requested_amount" in body["errors"]["json"]
    assert grants_seen(member) == []


def test_an_unknown_top_level_field_is_refused(member, city):
    response = member.post("/grants", proposal(city, "100.00", colour="red"))

    body = assert_error(response, 422)
    assert list(body["errors"]["json"]) == ["colour"]
    assert grants_seen(member) == []


def test_an_unknown_field_inside_a_budget_line_is_refused(member, city):
    data = proposal(city, "100.00", "200.00")
    data["budget_lines"][1]["vat"] = "10.00"

    response = member.post("/grants", data)

    body = assert_error(response, 422)
    assert list(body["errors"]["json"]) == ["budget_lines"]
    assert_messages(body["errors"]["json"]["budget_lines"], {"1": ["vat"]})
    assert grants_seen(member) == []


def test_an_unknown_field_on_a_transition_is_refused_and_the_state_kept(make, member, city):
    grant = make.grant(city)

    response = member.fire(grant.id, "submit", priority="high")

    body = assert_error(response, 422)
    assert "priority" in body["errors"]["json"]
    assert member.get(f"/grants/{grant.id}").get_json()["state"] == "draft"
    assert member.get(f"/grants/{grant.id}/history").get_json() == []


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param('{"title": "Harbour", ', id="truncated"),
        pytest.param("{'title': 'Harbour'}", id="single-quotes"),
        pytest.param("not json at all", id="text"),
        pytest.param('{"title": "Harbour",}', id="trailing-comma"),
    ],
)
def test_a_malformed_json_body_is_400_and_nothing_is_stored(member, raw):
    response = member.post("/grants", data=raw, content_type="application/json")

    assert_error(response, 400)
    assert grants_seen(member) == []


def test_a_malformed_transition_body_is_400_and_the_state_kept(make, member, city):
    grant = make.grant(city)

    response = member.call(
        "POST",
        f"/grants/{grant.id}/transitions",
        data='{"event": "submit"',
        content_type="application/json",
    )

    assert_error(response, 400)
    assert member.get(f"/grants/{grant.id}").get_json()["state"] == "draft"


def test_missing_required_fields_are_named(member):
    response = member.post("/grants", {})

    body = assert_error(response, 422)
    assert set(body["errors"]["json"]) == {"title", "start_date", "end_date", "budget_lines"}
    assert grants_seen(member) == []


def test_an_unknown_category_is_refused(member, city):
    data = proposal(city, "100.00")
    data["budget_lines"][0]["category"] = "catering"

    body = assert_error(member.post("/grants", data), 422)

    assert list(body["errors"]["json"]["budget_lines"]["0"]) == ["category"]
    assert grants_seen(member) == []


# ---------------------------------------------------------------------------------------------
# approved_amount on approve


@pytest.mark.parametrize("amount", [p for p in BAD_AMOUNTS if p.id != "null"])
def test_a_bad_approved_amount_is_refused_and_the_grant_stays_submitted(
    make, finance, city, amount
):
    grant = make.grant(city, state="submitted", amounts=(150_000,))

    response = finance.fire(grant.id, "approve", approved_amount=amount)

    body = assert_error(response, 422)
    assert list(body["errors"]["json"]) == ["approved_amount"]
    after = finance.get(f"/grants/{grant.id}").get_json()
    assert after["state"] == "submitted"
    assert after["approved_amount"] is None
    assert finance.get(f"/grants/{grant.id}/history").get_json() == []
    title = finance.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert title["committed"] == "0.00"
    assert title["available"] == "5000.00"


# ---------------------------------------------------------------------------------------------
# Pagination


@pytest.mark.parametrize(
    "query",
    ["page_size=101", "page_size=0", "page=0", "page=-1", "page_size=abc", "page=1.5"],
)
@pytest.mark.parametrize("path", ["/grants", "/cities", "/users"])
def test_bad_pagination_is_422(make, query, path):
    admin = make.as_role("admin")

    response = admin.get(f"{path}?{query}")

    body = assert_error(response, 422)
    assert list(body["errors"]) == ["query"]
    assert set(body["errors"]["query"]) <= {"page", "page_size"}


def test_pages_and_the_x_pagination_header(make, finance, city):
    ids = [make.grant(city).id for _ in range(5)]

    pages = []
    for page in (1, 2, 3):
        response = finance.get(f"/grants?page={page}&page_size=2")
        assert response.status_code == 200
        pages.append((json.loads(response.headers["X-Pagination"]), response.get_json()))

    for number, (meta, _) in enumerate(pages, 1):
        assert meta == {"total": 5, "total_pages": 3, "page": number, "page_size": 2}
    assert [[g["id"] for g in items] for _, items in pages] == [ids[0:2], ids[2:4], ids[4:]]

    response = finance.get("/grants?page_size=100")
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 5,
        "total_pages": 1,
        "page": 1,
        "page_size": 100,
    }
    default = finance.get("/grants")
    assert json.loads(default.headers["X-Pagination"]) == {
        "total": 5,
        "total_pages": 1,
        "page": 1,
        "page_size": 20,
    }


# ---------------------------------------------------------------------------------------------
# Money out


def _money_fields(grant: dict[str, Any]) -> list[Any]:
    values = [
        grant["requested_amount"],
        grant["approved_amount"],
        grant["paid_amount"],
        grant["recovered_amount"],
    ]
    return values + [b["amount"] for b in grant["budget_lines"]]


def test_money_out_always_has_two_decimals(member, finance, city):
    created = member.post("/grants", proposal(city, "0.10", "1.05", "100.00")).get_json()
    assert created["requested_amount"] == "101.15"
    assert created["approved_amount"] is None
    assert created["paid_amount"] == "0.00"
    assert created["recovered_amount"] == "0.00"

    assert member.fire(created["id"], "submit").status_code == 200
    response = finance.fire(created["id"], "approve", approved_amount="50.50")
    assert response.status_code == 200, response.get_json()
    grant = response.get_json()

    assert grant["approved_amount"] == "50.50"
    assert all(isinstance(v, str) and MONEY_OUT.match(v) for v in _money_fields(grant))
    listed = finance.get("/grants").get_json()
    assert all(isinstance(v, str) and MONEY_OUT.match(v) for v in _money_fields(listed[0]))
    title = finance.get(f"/cities/{city.id}").get_json()["titles"][0]
    assert (title["cap"], title["committed"], title["paid"], title["available"]) == (
        "5000.00",
        "50.50",
        "0.00",
        "4949.50",
    )
    history = finance.get(f"/grants/{created['id']}/history").get_json()
    assert history[-1]["data"]["approved_amount"] == "50.50"
