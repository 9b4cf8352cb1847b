"""Report reminders, and the migrations matching the models."""

from __future__ import annotations

import datetime as dt
import logging

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from grants.audit import AuditEvent
from grants.db import today
from grants.extensions import db
from grants.reminders.services import send_reminders


def test_the_migrated_schema_equals_the_models(app_ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_reminders_are_sent_before_and_after_the_due_date_once_each(make, caplog):
    caplog.set_level(logging.INFO, logger="grants.reminders.services")
    city = make.city(valid_from=today() - dt.timedelta(days=100))
    member = make.user("city_member", city=city)
    start = today() - dt.timedelta(days=60)
    grant = make.grant(city, state="disbursed", start=start, end=start + dt.timedelta(days=100))
    interim_due = start + dt.timedelta(days=50)  # the midpoint, 10 days ago
    final_due = start + dt.timedelta(days=160)

    assert send_reminders(on=interim_due - dt.timedelta(days=15)) == 0
    assert send_reminders(on=interim_due - dt.timedelta(days=14)) == 1  # 14 days before
    assert send_reminders(on=interim_due - dt.timedelta(days=13)) == 0  # once
    assert send_reminders(on=interim_due + dt.timedelta(days=7)) == 1  # overdue after 7 days
    assert send_reminders(on=interim_due + dt.timedelta(days=8)) == 0
    assert send_reminders(on=final_due - dt.timedelta(days=14)) == 1
    mails = [r.getMessage() for r in caplog.records if "mail" in r.getMessage()]
    assert len(mails) == 3
    assert all(member.email in m for m in mails)
    assert "interim report" in mails[0] and f"due on {interim_due}" in mails[0]
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.grant_id == grant.id))
    assert list(actions).count("reminder_sent") == 3
