"""Sign-in protection: the 11th attempt after 10 failures is refused for 5 minutes.

The count lives in the database (grants.lockout), so these run on SQLite and on PostgreSQL;
concurrent failures are in tests/test_faults.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from grants.app import create_app
from grants.extensions import db
from grants.lockout import SigninLockout
from tests.factories import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    clock = Clock()
    app.config["CLOCK"] = clock
    yield clock
    app.config.pop("CLOCK")


def sign_in(client, email, password):
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


def test_lockout_starts_at_the_11th_attempt_and_ends_after_5_minutes(make, client, clock):
    user = make.user("auditor")
    for i in range(10):
        if i:
            clock.now += 30
        r = sign_in(client, user.email, "wrong password")
        assert r.status_code == 401
    r = sign_in(client, user.email, PASSWORD)
    assert r.status_code == 429
    assert r.get_json()["code"] == 429
    assert r.get_json()["message"] == "Too many failed sign-in attempts: try again in 5 minutes."
    clock.now += 299
    r = sign_in(client, user.email, PASSWORD)
    assert r.status_code == 429
    assert r.get_json()["message"].endswith("try again in 1 minute.")
    clock.now += 2
    assert sign_in(client, user.email, PASSWORD).status_code == 201


def test_failures_spread_over_more_than_15_minutes_do_not_lock(make, client, clock):
    user = make.user("auditor")
    for _ in range(12):
        assert sign_in(client, user.email, "wrong password").status_code == 401
        clock.now += 100  # 10 failures span more than 15 minutes
    assert sign_in(client, user.email, PASSWORD).status_code == 201


def test_unknown_email_and_wrong_password_look_alike_and_both_count(make, client, clock):
    user = make.user("auditor")
    unknown = sign_in(client, "nobody@test.example", "whatever")
    wrong = sign_in(client, user.email, "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json() == wrong.get_json()
    for _ in range(9):
        sign_in(client, "nobody@test.example", "whatever")
    assert sign_in(client, "nobody@test.example", "whatever").status_code == 429
    assert sign_in(client, user.email, PASSWORD).status_code == 201  # another account


def test_a_success_clears_the_count(make, client, clock):
    user = make.user("auditor")
    for _ in range(9):
        sign_in(client, user.email, "wrong password")
    assert sign_in(client, user.email, PASSWORD).status_code == 201
    for _ in range(9):
        assert sign_in(client, user.email, "wrong password").status_code == 401
    assert sign_in(client, user.email, PASSWORD).status_code == 201


def test_every_worker_sees_the_same_count(make, client, clock, database_url):
    """Another app on the same database (another worker or host) counts on and refuses too."""
    email = make.user("auditor").email
    db.session.rollback()  # hold no transaction (SQLite: no write lock) while the apps work
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": None,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "CLOCK": clock,
        }
    )
    try:
        for i in range(10):
            worker = client if i % 2 else other.test_client()
            assert sign_in(worker, email, "wrong password").status_code == 401
        assert sign_in(other.test_client(), email, PASSWORD).status_code == 429
        assert sign_in(client, email, PASSWORD).status_code == 429
    finally:
        with other.app_context():
            db.engine.dispose()


def test_the_count_is_kept_per_account_in_the_database_and_a_success_removes_it(
    make, client, clock
):
    user = make.user("auditor")
    for _ in range(3):
        sign_in(client, f"  {user.email.upper()} ", "wrong password")
    db.session.rollback()
    row = db.session.get(SigninLockout, user.email)
    assert row is not None and row.failures == [clock.now] * 3 and row.locked_until == 0
    assert sign_in(client, user.email, PASSWORD).status_code == 201
    db.session.rollback()
    assert db.session.scalars(select(SigninLockout)).all() == []
