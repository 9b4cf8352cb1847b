"""An ``Idempotency-Key`` survives the request that claimed it failing at the worst moment.

Found by ``bench/load --chaos``: the database dropped its connections while an idempotent
request committed; the claim stayed without an answer and every retry got 409
``idempotency_in_progress`` for a day. Now a request that does not answer forgets its claim,
and a claim that could not be forgotten (the database was gone, the worker was killed) is
released once it is older than ``IDEMPOTENCY_ABANDONED_SECONDS``. The change and its stored
answer are committed together, so a retry never runs a change twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from grants.extensions import db
from grants.http.idempotency import IdempotencyKey
from grants.payouts.models import Payout
from tests.money_helpers import approved_grant, authorise


def _payouts(grant_id: int) -> list[Payout]:
    db.session.expire_all()
    return list(db.session.scalars(select(Payout).where(Payout.grant_id == grant_id)))


def _claims() -> list[tuple[str, int | None]]:
    db.session.expire_all()
    return list(db.session.execute(select(IdempotencyKey.key, IdempotencyKey.response_status)))


@pytest.fixture
def short_waits(app: Any) -> Any:
    saved = {k: app.config[k] for k in ("IDEMPOTENCY_WAIT_SECONDS",)}
    app.config["IDEMPOTENCY_WAIT_SECONDS"] = 0
    yield
    app.config.update(saved)


def test_a_lost_connection_at_the_commit_leaves_the_key_free_for_the_retry(
    make: Any, monkeypatch: pytest.MonkeyPatch, short_waits: Any
) -> None:
    pilot = approved_grant(make)
    session = db.session()
    real_commit = type(session).commit
    calls = {"n": 0}

    def commit(self: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the claim commits; the change with its answer is lost
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        real_commit(self)

    key = {"Idempotency-Key": "k-lost"}
    monkeypatch.setattr(type(session), "commit", commit)
    first = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    monkeypatch.setattr(type(session), "commit", real_commit)
    assert first.status_code == 503, first.get_json()
    assert first.headers["Retry-After"]
    assert _payouts(pilot.id) == []
    assert _claims() == []  # forgotten: nothing was done

    again = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert again.status_code == 201, again.get_json()
    replay = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["id"] == again.get_json()["id"]
    assert [p.amount_cents for p in _payouts(pilot.id)] == [100_000]


def _stale_claim(app: Any, pilot: Any, key: str, age: dt.timedelta) -> None:
    """A claim of the same request (same body) that never got its answer."""
    from grants.http import idempotency

    with app.test_request_context(json={"kind": "advance", "amount": "1000.00"}):
        digest = idempotency._request_hash()
    db.session.add(
        IdempotencyKey(
            user_id=pilot.a.user.id,
            method="POST",
            path=f"/api/v1/grants/{pilot.id}/disbursements",
            key=key,
            request_hash=digest,
            created_at=dt.datetime.now(dt.UTC) - age,
        )
    )
    db.session.commit()


def test_a_claim_that_never_answered_is_released_once_abandoned(
    make: Any, app: Any, short_waits: Any
) -> None:
    pilot = approved_grant(make)
    abandoned = app.config["IDEMPOTENCY_ABANDONED_SECONDS"]
    _stale_claim(app, pilot, "k-recent", dt.timedelta(seconds=abandoned - 30))
    _stale_claim(app, pilot, "k-old", dt.timedelta(seconds=abandoned + 1))

    recent = authorise(
        pilot.a, pilot.id, "advance", "1000.00", headers={"Idempotency-Key": "k-recent"}
    )
    assert recent.status_code == 409
    assert recent.get_json()["reason"] == "idempotency_in_progress"
    assert _payouts(pilot.id) == []

    old = authorise(pilot.a, pilot.id, "advance", "1000.00", headers={"Idempotency-Key": "k-old"})
    assert old.status_code == 201, old.get_json()
    assert [p.amount_cents for p in _payouts(pilot.id)] == [100_000]
    assert sorted(_claims()) == [("k-old", 201), ("k-recent", None)]


def test_an_answer_that_reached_the_database_is_replayed_not_run_again(
    make: Any, short_waits: Any
) -> None:
    """The claim is forgotten only while it has no answer: a stored answer stays."""
    from grants.http import idempotency

    pilot = approved_grant(make)
    key = {"Idempotency-Key": "k-done"}
    first = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert first.status_code == 201
    row_id = db.session.scalar(select(IdempotencyKey.id).where(IdempotencyKey.key == "k-done"))
    with db.session.no_autoflush:
        idempotency._forget(row_id)
    again = authorise(pilot.a, pilot.id, "advance", "1000.00", headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert len(_payouts(pilot.id)) == 1
