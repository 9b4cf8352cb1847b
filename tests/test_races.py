"""Races: eight identical admin requests at the same moment end in one winner and 409s.

Under real concurrency (PostgreSQL), the app is served by a threaded WSGI server in this process
(the ``live`` fixture, tests/live.py); the eight client threads are released together by a
barrier, and each request runs in its own server thread with its own database connection. A
unique value taken by a concurrent request is a 409 ``conflict`` (never a 500), the titles of
one city never overlap, and nothing in the server's log holds a password or its hash.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from grants.audit import AuditEvent
from grants.cities.models import Title
from grants.extensions import db
from grants.rates.models import ExchangeRate, format_rate
from grants.users.models import User
from tests.conftest import needs_postgres
from tests.live import Reply

pytestmark = needs_postgres

N = 8
SECRET = "racing horse battery staple"


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Any:
    """Everything the app and the live server write: log records (SQL included) and stderr."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement, as a trace
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def text() -> str:
        out, err = capfd.readouterr()
        records = "\n".join(formatter.format(r) for r in caplog.records)  # with tracebacks
        return "\n".join((records, out, err))

    return text


@pytest.fixture
def admin(make: Any) -> Iterator[Any]:
    caller = make.as_role("admin")
    db.session.rollback()  # hold no transaction while the server works
    yield caller


def at_once(live: Any, calls: list[tuple]) -> list[Reply]:
    replies = live.at_once(calls)
    assert len(replies) == len(calls), "a request never came back"
    assert not [r for r in replies if r.status >= 500], [r.text for r in replies]
    return replies


def events(action: str) -> list[AuditEvent]:
    db.session.rollback()  # read what the server's connections committed
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


# ---------------------------------------------------------------------------------------------
# Users


def test_eight_identical_user_creations_make_one_user_and_seven_conflicts(
    live: Any, admin: Any, server_log: Any
) -> None:
    body = {"email": "racer@test.example", "password": SECRET, "role": "auditor"}

    replies = at_once(live, [("POST", "/users", admin.token, body)] * N)

    assert Counter(r.status for r in replies) == {201: 1, 409: N - 1}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} == {"conflict"}
    (created,) = [r.body for r in replies if r.status == 201]
    assert created["email"] == "racer@test.example"
    db.session.rollback()
    users = db.session.scalars(select(User).where(User.email == "racer@test.example")).all()
    assert [u.id for u in users] == [created["id"]]
    assert [e.subject_id for e in events("user_created")] == [created["id"]]
    # The one user can sign in with the password that was sent.
    signed_in = live.request(
        "POST", "/auth/tokens", "", {"email": "racer@test.example", "password": SECRET}
    )
    assert signed_in.status == 201, signed_in.text
    log = server_log()
    assert "/api/v1/users" in log  # the capture saw the server at work,
    assert "INSERT INTO users" in log  # down to its SQL statements
    assert "scrypt:" not in log
    assert users[0].password_hash not in log
    assert SECRET not in log
    assert all(r.text.count("scrypt") == 0 and SECRET not in r.text for r in replies)


# ---------------------------------------------------------------------------------------------
# Exchange rates: PUT is an upsert


def test_eight_identical_rate_inserts_make_one_rate_and_no_error(
    live: Any, admin: Any, server_log: Any
) -> None:
    path = "/exchange-rates/2031-05/SEK"

    replies = at_once(live, [("PUT", path, admin.token, {"rate": "11.123456"})] * N)

    # An upsert: the first inserts, the others find its row and set the same rate again.
    assert Counter(r.status for r in replies) == {200: N}, [r.text for r in replies]
    assert {r.body["rate"] for r in replies} == {"11.123456"}
    db.session.rollback()
    rows = db.session.scalars(
        select(ExchangeRate).where(ExchangeRate.month == "2031-05", ExchangeRate.currency == "SEK")
    ).all()
    assert [(r.rate_micros, r.updated_by_id) for r in rows] == [(11_123_456, admin.user.id)]
    # One change of the rate, from nothing to 11.123456, audited once.
    assert [e.data for e in events("rate_set")] == [
        {"month": "2031-05", "currency": "SEK", "from": None, "to": "11.123456"}
    ]
    listed = live.request("GET", "/exchange-rates?month=2031-05", admin.token)
    assert [(r["currency"], r["rate"]) for r in listed.body] == [("SEK", "11.123456")]
    assert "Traceback" not in server_log()


def test_eight_different_rates_for_one_new_month_leave_one_row_the_last_change_audited(
    live: Any, admin: Any
) -> None:
    path = "/exchange-rates/2031-06/NOK"
    rates = [f"11.{i:06d}" for i in range(1, N + 1)]

    replies = at_once(live, [("PUT", path, admin.token, {"rate": rate}) for rate in rates])

    assert Counter(r.status for r in replies) == {200: N}, [r.text for r in replies]
    won = [r.body["rate"] for r in replies]
    db.session.rollback()
    (row,) = db.session.scalars(
        select(ExchangeRate).where(ExchangeRate.month == "2031-06", ExchangeRate.currency == "NOK")
    ).all()
    changes = [e.data for e in events("rate_set")]
    # The audited changes form one unbroken story from nothing to the rate stored.
    assert changes[0]["from"] is None
    assert [c["from"] for c in changes[1:]] == [c["to"] for c in changes[:-1]]
    assert changes[-1]["to"] == format_rate(row.rate_micros)
    assert sorted(c["to"] for c in changes) == sorted(won)


# ---------------------------------------------------------------------------------------------
# Titles of one city


def overlapping(titles: list[Title]) -> list[tuple[int, int]]:
    return [
        (a.id, b.id)
        for i, a in enumerate(titles)
        for b in titles[i + 1 :]
        if a.valid_from <= b.valid_until and b.valid_from <= a.valid_until
    ]


def titles_of(city_id: int) -> list[Title]:
    db.session.rollback()
    return list(db.session.scalars(select(Title).where(Title.city_id == city_id)))


def test_eight_identical_title_awards_make_one_title(live: Any, admin: Any, make: Any) -> None:
    city_id = make.city(title=False).id
    db.session.rollback()
    body = {"year": 2031, "valid_from": "2031-01-01", "valid_until": "2031-12-31"}

    replies = at_once(live, [("POST", f"/cities/{city_id}/titles", admin.token, body)] * N)

    assert Counter(r.status for r in replies) == {201: 1, 409: N - 1}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} <= {"conflict", "title_overlap"}
    (created,) = [r.body for r in replies if r.status == 201]
    assert [t.id for t in titles_of(city_id)] == [created["id"]]
    assert [e.subject_id for e in events("title_awarded")] == [created["id"]]


@pytest.mark.parametrize("round_", range(3))
def test_eight_overlapping_title_awards_of_other_years_never_overlap(
    live: Any, admin: Any, make: Any, round_: int
) -> None:
    """Different years (so no unique constraint helps), validities that all overlap."""
    city_id = make.city(title=False).id
    db.session.rollback()
    start = dt.date(2040, 1, 1)
    bodies = [
        {
            "year": 2040 + i,
            "valid_from": (start + dt.timedelta(days=30 * i)).isoformat(),
            "valid_until": (start + dt.timedelta(days=30 * i + 365)).isoformat(),
        }
        for i in range(N)
    ]

    replies = at_once(live, [("POST", f"/cities/{city_id}/titles", admin.token, b) for b in bodies])

    assert Counter(r.status for r in replies) == {201: 1, 409: N - 1}, [r.text for r in replies]
    assert {r.body["reason"] for r in replies if r.status == 409} == {"title_overlap"}
    titles = titles_of(city_id)
    assert overlapping(titles) == []
    (created,) = [r.body for r in replies if r.status == 201]
    assert [t.id for t in titles] == [created["id"]]
    city = live.request("GET", f"/cities/{city_id}", admin.token).body
    assert [t["id"] for t in city["titles"]] == [created["id"]]


def test_titles_that_do_not_overlap_are_all_awarded_at_once(
    live: Any, admin: Any, make: Any
) -> None:
    """The lock serialises the awards of one city; it refuses nothing that fits."""
    city_id = make.city(title=False).id
    db.session.rollback()
    bodies = [
        {"year": 2050 + i, "valid_from": f"{2050 + i}-01-01", "valid_until": f"{2050 + i}-12-31"}
        for i in range(N)
    ]

    replies = at_once(live, [("POST", f"/cities/{city_id}/titles", admin.token, b) for b in bodies])

    assert Counter(r.status for r in replies) == {201: N}, [r.text for r in replies]
    titles = titles_of(city_id)
    assert sorted(t.year for t in titles) == [2050 + i for i in range(N)]
    assert overlapping(titles) == []
