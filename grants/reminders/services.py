"""Report reminders: before a report is due and after it is overdue, once each."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import select

from grants import audit
from grants.audit import Action
from grants.db import today
from grants.extensions import db
from grants.grant.models import Grant
from grants.grant.services import reports_due
from grants.reminders.models import Reminder
from grants.users.models import User
from workflows.grant import APPROVED, DISBURSED, INTERIM_REPORTED

log = logging.getLogger(__name__)


def send_mail(to: list[str], subject: str, body: str) -> None:
    """Send through ``SMTP_URL`` (smtp://user:password@host:port); unset: log it instead."""
    url = current_app.config["SMTP_URL"]
    if not url:
        log.info("mail (not sent: SMTP_URL unset) to %s: %s", ", ".join(to), subject)
        return
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"] = current_app.config.get("MAIL_FROM", "pearl-grants@localhost")
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with smtp_class(parts.hostname or "localhost", parts.port or 25, timeout=30) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def due_reminders(on: dt.date) -> list[tuple[Grant, str, str, dt.date]]:
    """(grant, kind, moment, due date) of every reminder due ``on`` and not yet sent."""
    before = current_app.config["REMINDER_DAYS_BEFORE"]
    after = current_app.config["REMINDER_DAYS_AFTER"]
    sent = {(r.grant_id, r.kind, r.moment) for r in db.session.scalars(select(Reminder))}
    out = []
    grants = db.session.scalars(
        select(Grant).where(Grant.state.in_((APPROVED, DISBURSED, INTERIM_REPORTED)))
    )
    for grant in grants:
        for due in reports_due(grant):
            kind, due_on = due["kind"], due["due_on"]
            if on >= due_on + dt.timedelta(days=after):
                moment = "overdue"
            elif on >= due_on - dt.timedelta(days=before):
                moment = "before"
            else:
                continue
            if (grant.id, kind, moment) not in sent:
                out.append((grant, kind, moment, due_on))
    return out


def send_reminders(on: dt.date | None = None) -> int:
    """Send each due reminder to the city's members, record it, and return how many were sent."""
    on = on or today()
    count = 0
    for grant, kind, moment, due_on in due_reminders(on):
        members = list(
            db.session.scalars(
                select(User.email).where(User.city_id == grant.city_id, User.is_active.is_(True))
            )
        )
        when = "is due on" if moment == "before" else "was due on"
        subject = f"Pearl Grants: the {kind} report of '{grant.title}' {when} {due_on}"
        body = (
            f"The {kind} report of the pilot '{grant.title}' ({grant.city.name}) {when} "
            f"{due_on}. Please file it in Pearl Grants.\n"
        )
        if members:
            send_mail(members, subject, body)
        db.session.add(
            Reminder(
                grant_id=grant.id, kind=kind, moment=moment, due_on=due_on, recipients=len(members)
            )
        )
        audit.log(
            Action.REMINDER_SENT,
            grant,
            actor=None,
            data={"kind": kind, "moment": moment, "due_on": due_on.isoformat(), "to": len(members)},
        )
        db.session.commit()
        count += 1
    return count
