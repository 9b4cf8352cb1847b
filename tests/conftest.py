"""Test fixtures: the app on SQLite (default) or on a fresh PostgreSQL database.

Set ``TEST_DATABASE_URL`` to a PostgreSQL URL (``postgresql+psycopg://root@127.0.0.1:5432/test``)
to run the suite there: a new database is created for the run and dropped afterwards. Tests that
need PostgreSQL (real concurrency) are skipped on SQLite, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from grants.app import create_app
from grants.extensions import db
from tests.factories import Factory
from tests.pages_helpers import Pages

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")

needs_postgres = pytest.mark.skipif(
    not PG_URL.startswith("postgresql"),
    reason="needs PostgreSQL for real concurrent connections: set TEST_DATABASE_URL",
)
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="needs a real Redis server: set TEST_REDIS_URL"
)


def _admin_engine(url: str) -> Any:
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
        return
    name = f"pearl_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": None,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "IDEMPOTENCY_WAIT_SECONDS": 15,
            "EXPORT_DIR": None,
        }
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "grants" / "migrations"))
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def _clean(app: Flask) -> None:
    app.extensions.pop("signin_lockout", None)  # sign-in failures counted in this process
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
        db.session.remove()


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" in request.fixturenames:
        _clean(request.getfixturevalue("app"))


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make(app_ctx: Flask) -> Factory:
    return Factory(app_ctx)


@pytest.fixture
def pages(app: Flask) -> Any:
    """``pages(user)``: a Pages signed in as ``user``, having read the dashboard.

    Signing in makes a new CSRF token; the dashboard (where the login redirects a browser)
    carries it, so the next form posted has the right one.
    """

    def signed_in(user: Any) -> Pages:
        p = Pages(app.test_client())
        response = p.sign_in(user.email)
        assert response.status_code == 302, response.text
        p.get("/dashboard")
        return p

    return signed_in


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def live(app: Flask) -> Iterator[Any]:
    """The app served over real HTTP on 127.0.0.1 (see tests/live.py)."""
    from tests.live import live_server

    with live_server(app) as server:
        yield server
