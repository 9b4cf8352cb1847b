"""JSON bodies bounded before parsing, unknown fields named at most 20 times, dates strict."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from tests.factories import Factory


def stored_grants() -> int:
    return db.session.scalar(select(func.count(Grant.id)))


def raw_post(client: Any, path: str, body: str | bytes, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        f"/api/v1{path}", data=body, content_type="application/json", headers=headers
    )


def grant_body(**changes: Any) -> dict[str, Any]:
    body = {
        "title": "Harbour stories",
        "summary": "",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=30)).isoformat(),
        "budget_lines": [{"category": "fees", "description": "Fees", "amount": "100.00"}],
    }
    return {**body, **changes}


@pytest.fixture
def member(make: Factory) -> Any:
    city = make.city(valid_from=today() - dt.timedelta(days=30))
    return make.as_role("city_member", city=city)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ("[" * 33 + "]" * 33, 400, "nested deeper than 32"),
        ('{"title": ' + "[" * 10_000 + "]" * 10_000 + "}", 400, "nested deeper than 32"),
        ('{"title": 1' + "0" * 100_000 + "}", 400, "more than 20 digits"),
        ('{"title": "x", "n": 1e99999999999999999999999}', 400, "more than 20 digits"),
        ('{"title": NaN}', 400, "not valid JSON"),
        ('{"title": Infinity}', 400, "not valid JSON"),
        ('{"title": "unterminated', 400, "not valid JSON"),
        ('{"title": "\\ud800"', 400, "not valid JSON"),
        (b'{"title": "\xff\xfe"}', 400, "not valid UTF-8"),
        ('"' + "\\" * 200_000, 400, "not valid JSON"),  # linear scan: no backtracking
        (" " * (257 * 1024), 413, "larger than 256 KB"),
    ],
    ids=[
        "33-levels",
        "deep-inside-a-field",
        "100k-digit-integer",
        "huge-exponent",
        "nan",
        "infinity",
        "unterminated",
        "unclosed-object",
        "not-utf8",
        "backslashes",
        "257-kb",
    ],
)
def test_hostile_json_is_refused_before_parsing_and_nothing_is_written(
    member: Any, app_ctx: Any, body: str, status: int, words: str
):
    r = raw_post(member.client, "/grants", body, member.token)
    assert r.status_code == status, r.get_json()
    answer = r.get_json()
    assert answer["code"] == status and words in answer["message"]
    assert stored_grants() == 0


def test_thirty_two_levels_pass_the_body_check(member: Any):
    nested: Any = "x"
    for _ in range(30):
        nested = [nested]
    r = raw_post(member.client, "/grants", json.dumps(grant_body(title=nested)), member.token)
    assert r.status_code == 422  # parsed, then refused by the schema: title is no string
    assert "title" in r.get_json()["errors"]["json"]


def test_the_size_limit_is_a_setting(member: Any, app: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(app.config, "MAX_JSON_KB", 1)
    r = member.post("/grants", grant_body(summary="x" * 1100))
    assert r.status_code == 413
    assert "larger than 1 KB" in r.get_json()["message"]


def test_a_body_full_of_unknown_keys_names_twenty_and_answers_small(member: Any, app_ctx: Any):
    body = grant_body()
    body.update({f"k{i}": i for i in range(15_000)})  # ~200 KB: under the size limit
    r = raw_post(member.client, "/grants", json.dumps(body), member.token)
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]
    assert len([k for k in errors if k.startswith("k")]) == 20
    assert "15000 unknown fields" in errors["_schema"][0]
    assert len(r.data) < 4_000
    assert stored_grants() == 0


def test_an_unknown_key_with_control_characters_is_named_safely(member: Any):
    r = member.post("/grants", {**grant_body(), "bad\x07\ud800key": 1})
    assert r.status_code == 422
    assert "bad??key" in r.get_json()["errors"]["json"]


def test_uploads_keep_their_own_larger_limit(app: Any):
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["MAX_JSON_KB"] * 1024 * 10


@pytest.mark.parametrize(
    "day",
    [
        "20270110",
        "2027-W01-1",
        "2027-010",
        "2027-1-10",
        "2027-01-10T00:00:00",
        " 2027-01-10",
        "1999-12-31",
        "2101-01-01",
        "2027-02-30",
        "２０２７-01-10",
        "",
    ],
)
def test_dates_are_yyyy_mm_dd_exactly_in_2000_to_2100(member: Any, app_ctx: Any, day: str):
    r = member.post("/grants", grant_body(start_date=day))
    assert r.status_code == 422, r.get_json()
    assert "start_date" in r.get_json()["errors"]["json"]
    assert stored_grants() == 0


def test_a_title_may_run_to_2100_but_not_past(make: Factory):
    admin = make.as_role("admin")
    city = make.city(title=False)
    ok = {"year": 2100, "valid_from": "2100-01-01", "valid_until": "2100-12-31"}
    assert admin.post(f"/cities/{city.id}/titles", ok).status_code == 201
    late = {"year": 2100, "valid_from": "2100-01-01", "valid_until": "2101-01-01"}
    r = admin.post(f"/cities/{city.id}/titles", late)
    assert r.status_code == 422
    assert "valid_until" in r.get_json()["errors"]["json"]


def test_a_payment_date_in_the_future_is_refused(make: Factory):
    from tests.money_helpers import approved_grant

    pilot = approved_grant(make)
    r = pilot.a.post(f"/grants/{pilot.id}/disbursements", {"kind": "advance"})
    payout = r.get_json()["id"]
    tomorrow = (today() + dt.timedelta(days=1)).isoformat()
    r = pilot.b.post(
        f"/disbursements/{payout}/transitions",
        {"event": "confirm_paid", "paid_on": tomorrow, "payment_reference": "R-1"},
    )
    assert r.status_code == 422
    assert r.get_json()["errors"]["json"]["paid_on"] == ["A payment date cannot lie in the future."]
    assert pilot.payouts()[0]["state"] == "authorised"
    r = pilot.b.post(
        f"/disbursements/{payout}/transitions",
        {"event": "confirm_paid", "paid_on": today().isoformat(), "payment_reference": "R-1"},
    )
    assert r.status_code == 200, r.get_json()


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("title", "Pilot\x07", "control character (U+0007, a bell)"),
        ("title", "Pilot\nTwo", "control character (U+000A)"),
        ("summary", "Line one\nLine two\tand a tab", None),
        ("summary", "nul\x00", "control character (U+0000, a null byte)"),
        ("summary", "c1\x9b", "control character (U+009B)"),
        ("title", "lone \udc00", "unpaired surrogate (U+DC00)"),
        ("title", "x" * 201, "Length must be between 1 and 200."),
        ("title", "x" * 100_000, "Length must be between 1 and 200."),
    ],
)
def test_the_one_text_rule(member: Any, app_ctx: Any, field: str, value: str, words: str | None):
    r = member.post("/grants", grant_body(**{field: value}))
    if words is None:
        assert r.status_code == 201, r.get_json()
        assert r.get_json()[field] == value
        return
    assert r.status_code == 422, r.get_json()
    assert words in r.get_json()["errors"]["json"][field][0]
    assert stored_grants() == 0


def test_the_pages_follow_the_same_text_rule(member: Any, app: Any, app_ctx: Any):
    """The proposal form is parsed by the API's schema: a bell in the title is shown, not kept."""
    from grants.users.credentials import open_page_session

    client = app.test_client()
    with client.session_transaction() as session:
        session["uid"] = member.user.id
        session["sid"] = open_page_session(member.user)
        session["csrf"] = "t"
    db.session.commit()
    form = {
        "csrf_token": "t",
        "title": "Harbour\x07 stories",
        "summary": "",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=30)).isoformat(),
        "budget_lines-0-category": "fees",
        "budget_lines-0-description": "Fees",
        "budget_lines-0-amount": "100.00",
    }
    r = client.post("/grants/new", data=form)
    assert r.status_code == 422
    assert "control character (U+0007, a bell)" in r.get_data(as_text=True)
    assert stored_grants() == 0
