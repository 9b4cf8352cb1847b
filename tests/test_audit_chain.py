"""The tamper-evident audit trail: ``flask audit verify`` finds every alteration."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from grants.extensions import db
from tests.test_money_life import approved_grant, pay


@pytest.fixture
def trail(make, app):
    """Some real activity: a grant proposed, submitted, approved, its advance paid."""
    _city, _member, a, b, gid = approved_grant(make)
    pay(a, b, gid, "advance")
    with db.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM audit_events")).scalar()
    assert count >= 6
    return count


def verify(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def tamper(sql: str, **params) -> None:
    """Change the audit table behind the application's back (as a database owner could)."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Skips ordinary triggers for this transaction: what a superuser could do.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql), params)


def test_an_untouched_trail_verifies(app, trail):
    code, output = verify(app)
    assert code == 0, output
    assert f"{trail} events, chain intact" in output


def test_consecutive_ids_and_links(app, trail):
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, prev_hash, hash FROM audit_events ORDER BY id")).all()
    assert [r.id for r in rows] == list(range(1, trail + 1))
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, len(rows)))


@pytest.mark.parametrize("column, value", [("comment", "edited"), ("action", "reject")])
def test_an_altered_event_is_named(app, trail, column, value):
    tamper(f"UPDATE audit_events SET {column} = :v WHERE id = 3", v=value)
    code, output = verify(app)
    assert code == 1
    assert "event 3 was altered" in output


def test_altered_json_data_is_detected(app, trail):
    tamper("UPDATE audit_events SET data = :d WHERE id = 4", d='{"approved_amount": "9999.00"}')
    code, output = verify(app)
    assert code == 1 and "event 4" in output


def test_a_removed_event_is_named(app, trail):
    tamper("DELETE FROM audit_events WHERE id = 2")
    code, output = verify(app)
    assert code == 1
    assert "event 2 is missing" in output


def test_removing_the_newest_event_is_detected(app, trail):
    tamper("DELETE FROM audit_events WHERE id = :id", id=trail)
    code, output = verify(app)
    assert code == 1
    assert "head" in output


def test_an_inserted_event_is_detected(app, trail):
    with db.engine.connect() as conn:
        last = conn.execute(text("SELECT hash FROM audit_events WHERE id = :i"), {"i": trail})
        last_hash = last.scalar()
    tamper(
        "INSERT INTO audit_events (id, at, subject_type, action, data, is_internal, prev_hash,"
        " hash) VALUES (:id, CURRENT_TIMESTAMP, 'grant', 'approve', '{}', false, :p, :h)",
        id=trail + 1,
        p=last_hash,
        h="f" * 64,
    )
    code, output = verify(app)
    assert code == 1
    assert f"event {trail + 1}" in output


def test_postgresql_refuses_update_and_delete(app, trail, is_postgres):
    if not is_postgres:
        pytest.skip("the append-only trigger is PostgreSQL's")
    for sql in ("UPDATE audit_events SET comment = 'x' WHERE id = 1", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(sql))
    assert verify(app)[0] == 0
