"""Pages own their transaction as the API does: one commit at the boundary, rollback on error.

The views and services only change rows; ``page`` (like the API's ``endpoint``) commits once
when the page answers, or undoes everything; a success message and a queued job wait for the
commit (``grants.transaction.after_commit``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from grants import transaction
from grants.audit import AuditEvent
from grants.extensions import db
from grants.grant.models import Grant
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[1]


class Browser:
    def __init__(self, client: Any) -> None:
        self.client, self.token = client, ""

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **(data or {})})


@pytest.fixture
def browser(app: Any) -> Any:
    def signed_in(user: Any) -> Browser:
        b = Browser(app.test_client())
        b.get("/login")
        assert b.post("/login", {"email": user.email, "password": PASSWORD}).status_code == 302
        b.get("/dashboard")
        return b

    return signed_in


@pytest.fixture
def commits(app: Any) -> Iterator[list[int]]:
    """The COMMITs the database saw (one entry each) while the test ran."""
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", count)
    yield seen
    event.remove(engine, "commit", count)


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_page_action_is_committed_once_at_the_boundary(make, browser, commits):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    db.session.commit()
    b = browser(member)
    before = len(commits)
    response = b.post(f"/grants/{grant.id}/events/submit")
    assert response.status_code == 302
    assert len(commits) - before == 1
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "submitted"
    assert "Done: " in b.get(response.headers["Location"]).text


def test_a_refused_page_action_writes_nothing(make, browser):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member, state="withdrawn")
    db.session.commit()
    b = browser(member)
    audited = _audit_count()
    response = b.post(f"/grants/{grant.id}/events/withdraw")  # withdrawn already
    assert response.status_code == 409  # the grant page again at once, the refusal in words
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "withdrawn"
    assert _audit_count() == audited
    html = response.text
    assert "This cannot be done now: it is withdrawn." in html and "Done:" not in html


def test_a_form_sent_back_with_errors_commits_nothing(make, browser, commits):
    city = make.city()
    member = make.user("city_member", city=city)
    b = browser(member)
    b.get("/grants/new")
    before, audited = len(commits), _audit_count()
    response = b.post("/grants/new", {"title": "", "budget_lines-0-amount": "abc"})
    assert response.status_code == 422
    assert len(commits) == before
    assert _audit_count() == audited
    assert db.session.scalar(select(func.count()).select_from(Grant)) == 0


def test_when_the_commit_fails_nothing_is_promised_and_nothing_is_kept(
    make, browser, monkeypatch, app
):
    city = make.city()
    member = make.user("city_member", city=city)
    grant = make.grant(city, author=member)
    db.session.commit()
    b = browser(member)
    audited = _audit_count()
    real_commit = db.session.commit

    def lost_connection() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", lost_connection)
    response = b.post(f"/grants/{grant.id}/events/submit")
    assert response.status_code >= 500
    assert "Traceback" not in response.text
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Grant, grant.id).state == "draft"
    assert _audit_count() == audited
    assert "Done: " not in b.get(f"/grants/{grant.id}").text


def test_what_waits_for_the_commit_runs_after_it_and_never_after_a_rollback(app_ctx):
    ran: list[str] = []
    transaction.after_commit(lambda: ran.append("undone"))
    transaction.rollback()
    transaction.commit()
    assert ran == []
    transaction.after_commit(lambda: ran.append("first"))
    transaction.after_commit(lambda: ran.append("second"))
    assert ran == []
    transaction.commit()
    assert ran == ["first", "second"]
    transaction.commit()
    assert ran == ["first", "second"]  # each runs once


def test_no_view_commits_or_rolls_back_by_itself():
    """The boundaries (``page``, ``endpoint``, the idempotency store) are the only places."""
    boundaries = {"grants/http/idempotency.py", "grants/http/health.py"}  # a probe, no view
    offenders = []
    views = [*ROOT.glob("grants/http/**/*.py"), ROOT / "exports/views.py", ROOT / "exports/api.py"]
    for path in views:
        name = path.relative_to(ROOT).as_posix()
        if name in boundaries:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"session\.(commit|rollback)\(", line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []
