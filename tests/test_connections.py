"""Database connections (``grants/connections.py``) on PostgreSQL.

- A read request runs in autocommit: no ``BEGIN`` and no ``COMMIT`` round trip; a write, and a
  GET that writes (a download recorded in the audit trail), run in one transaction.
- A pooled connection that the server has closed (a restart, ``pg_terminate_backend``) is
  replaced at checkout, without a ``SELECT 1`` per request: the next requests answer as usual.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text

from grants.extensions import db
from tests.conftest import PG_URL, needs_postgres
from tests.factories import Factory

pytestmark = needs_postgres


@contextmanager
def modes(app: Any) -> Iterator[list[tuple[bool, str]]]:
    """(autocommit, first words) of each statement sent while the block runs."""
    seen: list[tuple[bool, str]] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((conn.connection.dbapi_connection.autocommit, statement.split()[0].upper()))

    db.session.remove()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_read_runs_in_autocommit_and_a_write_in_a_transaction(app: Any, make: Factory) -> None:
    city = make.city("Aalborg")
    grant = make.grant(city, state="approved")
    member = make.in_scope("city_member", city)
    auditor = make.as_role("auditor")
    grant_id = grant.id
    export = auditor.post("/exports", {"kind": "grant_statement", "grant_id": grant_id})
    assert export.status_code == 202
    with modes(app) as seen:
        for path in ("/users/me", f"/grants/{grant_id}", "/grants", "/cities"):
            assert member.get(path).status_code == 200
    assert seen and all(autocommit for autocommit, _ in seen), seen
    with modes(app) as seen:
        assert member.post(f"/grants/{grant_id}/comments", {"body": "Hello"}).status_code == 201
    assert seen and not any(autocommit for autocommit, _ in seen), seen
    with modes(app) as seen:  # the download is written to the audit trail: a transaction
        assert auditor.get(f"/exports/{export.get_json()['id']}/file").status_code == 200
    assert ("INSERT" in {word for _, word in seen}) and not any(a for a, _ in seen), seen


def test_connections_the_server_closed_are_replaced_without_an_error(
    app: Any, make: Factory, database_url: str
) -> None:
    city = make.city("Aalborg")
    grant = make.grant(city)
    member = make.in_scope("city_member", city)
    grant_id = grant.id
    for _ in range(3):  # some connections in the pool
        assert member.get(f"/grants/{grant_id}").status_code == 200
    db.session.remove()
    name = database_url.rsplit("/", 1)[-1]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar_one()
            # pg_terminate_backend only signals: wait until the backends have gone (closed
            # their sockets), which is what this test is about; a connection lost in the
            # middle of a request is the 503 of tests/test_faults.py.
            deadline = time.monotonic() + 10
            while (
                time.monotonic() < deadline
                and conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).scalar_one()
            ):
                time.sleep(0.05)
    finally:
        admin.dispose()
    assert ended >= 1
    for _ in range(5):
        response = member.get(f"/grants/{grant_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
    response = member.post(f"/grants/{grant_id}/transitions", {"event": "submit"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["state"] == "submitted"
