"""Faults: a dependency goes down, and the service says so instead of breaking.

Redis: a private ``redis-server`` on a free port (nothing saved to disk) is started for the
test and killed in the middle of it: sign-in (API and page) still works and still locks out
after 10 failures, ``/healthz`` says "degraded", and what needs Redis answers 503 with
``Retry-After`` in the shape of api.md. The database: an app pointed at a port where nothing
listens answers 503 (JSON for the API, a page for the pages), and ``/healthz`` 503.
Concurrency: wrong passwords sent at the same moment on PostgreSQL lock at the same threshold.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from grants.app import create_app
from grants.extensions import db
from grants.lockout import MAX_FAILURES, SigninLockout
from grants.queue import close_redis, redis_connection
from tests.conftest import needs_postgres
from tests.factories import PASSWORD
from tests.redis_server import RedisServer, free_port, needs_redis_server


@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[tuple[str, subprocess.Popen]]:
    """A redis-server of this test only: its URL and its process (the test may kill it)."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        assert server.process is not None
        yield server.url, server.process
    finally:
        server.kill()


def kill(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)


def app_on(database_url: str, redis_url: str | None) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )

    # A view that needs Redis, as queuing a statement does (whatever the export dispatcher
    # does when Redis is down): one under the API, one page.
    def needs_redis() -> Any:
        redis_connection().ping()
        return {"queued": True}

    app.add_url_rule("/api/v1/test-needs-redis", "test_needs_redis_api", needs_redis)
    app.add_url_rule("/test-needs-redis", "test_needs_redis_page", needs_redis)
    return app


@pytest.fixture
def redis_app(app: Flask, database_url: str, private_redis: Any) -> Iterator[Flask]:
    """The tests' database, with ``REDIS_URL`` pointing at the private Redis."""
    faulty = app_on(database_url, private_redis[0])
    yield faulty
    close_redis(faulty)
    with faulty.app_context():
        db.engine.dispose()


def sign_in(client: Any, email: str, password: str) -> Any:
    return client.post("/api/v1/auth/tokens", json={"email": email, "password": password})


def sign_in_page(client: Any, email: str, password: str) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )


def assert_unavailable_json(response: Any, what: str) -> None:
    assert response.status_code == 503, response.text
    assert response.mimetype == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert set(body) == {"code", "status", "message"}
    assert body["code"] == 503 and body["status"] == "Service Unavailable"
    assert what in body["message"] and "try again" in body["message"]
    assert "Traceback" not in response.text


# ---------------------------------------------------------------------------------------------
# Redis down


@needs_redis_server
@pytest.mark.slow
def test_with_redis_killed_sign_in_works_and_healthz_says_degraded(
    make: Any, redis_app: Flask, private_redis: Any
) -> None:
    email = make.user("auditor").email
    db.session.rollback()
    client = redis_app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["status"] == "ok"
    assert health.get_json()["checks"] == {"database": "ok", "redis": "ok"}
    assert client.get("/api/v1/test-needs-redis").status_code == 200

    kill(private_redis[1])

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "down"},
        "database": "ok",
        "queue": "down",
    }
    assert sign_in(client, email, PASSWORD).status_code == 201
    page = sign_in_page(redis_app.test_client(), email, PASSWORD)
    assert page.status_code == 302, page.text


@needs_redis_server
@pytest.mark.slow
def test_with_redis_killed_wrong_passwords_still_lock_out(
    make: Any, redis_app: Flask, private_redis: Any
) -> None:
    email = make.user("auditor").email
    db.session.rollback()
    kill(private_redis[1])
    client = redis_app.test_client()
    for i in range(MAX_FAILURES):
        by_page = i % 2 == 1
        response = (
            sign_in_page(redis_app.test_client(), email, "wrong password")
            if by_page
            else sign_in(client, email, "wrong password")
        )
        assert response.status_code == 401, (i, response.text)
    locked = sign_in(client, email, PASSWORD)
    assert locked.status_code == 429 and locked.get_json()["code"] == 429
    assert sign_in_page(redis_app.test_client(), email, PASSWORD).status_code == 429


@needs_redis_server
@pytest.mark.slow
def test_with_redis_killed_what_needs_it_answers_503_with_retry_after(
    redis_app: Flask, private_redis: Any
) -> None:
    kill(private_redis[1])
    client = redis_app.test_client()

    assert_unavailable_json(client.get("/api/v1/test-needs-redis"), "Redis")

    page = client.get("/test-needs-redis")
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) > 0
    assert "Temporarily unavailable" in page.text and "Redis" in page.text
    assert "Traceback" not in page.text


# ---------------------------------------------------------------------------------------------
# The database down


@pytest.fixture
def no_database_app(app: Flask) -> Iterator[Flask]:
    """An app whose PostgreSQL does not answer (nothing listens on its port)."""
    down = app_on(f"postgresql+psycopg://root@127.0.0.1:{free_port()}/gone", None)
    yield down
    with down.app_context():
        db.engine.dispose()


def test_with_the_database_down_healthz_and_requests_answer_503(no_database_app: Flask) -> None:
    client = no_database_app.test_client()

    health = client.get("/healthz")
    assert health.status_code == 503
    assert int(health.headers["Retry-After"]) > 0
    assert health.get_json() == {
        "status": "down",
        "checks": {"database": "down", "redis": "not configured"},
        "database": "down",
        "queue": "inline",
    }
    assert_unavailable_json(sign_in(client, "someone@test.example", PASSWORD), "database")
    assert_unavailable_json(
        client.get("/api/v1/users/me", headers={"Authorization": "Bearer " + "x" * 43}), "database"
    )
    page = client.get("/login")  # the form itself may need no database
    if page.status_code == 200:
        page = sign_in_page(client, "someone@test.example", PASSWORD)
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) > 0
    assert "Temporarily unavailable" in page.text and "database" in page.text


# ---------------------------------------------------------------------------------------------
# Concurrent failures


@needs_postgres
@pytest.mark.slow
def test_wrong_passwords_at_the_same_moment_lock_at_the_same_threshold(
    make: Any, live: Any
) -> None:
    """10 wrong passwords at once lock the account, as 10 in a row do.

    Each failure takes the account's row lock before it reads the count; without it, requests
    that read the count together would each write count + 1 and the account would stay open.
    """
    emails = [make.user("auditor").email for _ in range(3)]
    db.session.rollback()  # hold no transaction while the server works
    for email in emails:
        body = {"email": email, "password": "wrong password"}
        replies = live.at_once([("POST", "/auth/tokens", "", body)] * MAX_FAILURES)
        assert [r.status for r in replies] == [401] * MAX_FAILURES, [r.text for r in replies]
        right = live.request("POST", "/auth/tokens", "", {"email": email, "password": PASSWORD})
        assert right.status == 429, right.text
    db.session.rollback()
    rows = db.session.scalars(select(SigninLockout).where(SigninLockout.account.in_(emails)))
    assert sorted(r.failures for r in rows) == [[], [], []]


def test_the_api_document_lists_the_503_with_retry_after_on_every_operation(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["responses"]["ERROR_503"]
    assert "Retry-After" in error["headers"]
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "patch", "put", "delete")
    ]
    assert len(operations) > 20
    missing = [f"{m.upper()} {p}" for p, m, op in operations if "503" not in op["responses"]]
    assert missing == []
