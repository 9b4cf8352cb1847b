"""Sign-in protection: the 11th attempt after 10 failures is refused for 5 minutes."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL
from tests.factories import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def clock(app, request):
    if request.param == "redis":
        if not REDIS_URL:
            pytest.skip("needs a real Redis server: set TEST_REDIS_URL")
        from redis import Redis

        from grants.lockout import RedisStore

        store = RedisStore(Redis.from_url(REDIS_URL), prefix=f"test-{id(request)}")
    else:
        from grants.lockout import MemoryStore

        store = MemoryStore()
    clock = Clock()
    app.config["CLOCK"] = clock
    app.extensions["signin_lockout"] = store
    yield clock
    app.config.pop("CLOCK")
    app.extensions.pop("signin_lockout")
    if request.param == "redis":
        store.redis.close()


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
    clock.now += 299
    assert sign_in(client, user.email, PASSWORD).status_code == 429
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
