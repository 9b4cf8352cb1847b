"""Command line: ``flask --app wsgi users create``, ``demo`` (``db …`` comes from Flask-Migrate)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from exports.cli import exports_cli
from grants.agreements.models import GrantAgreement
from grants.agreements.services import issue_agreement
from grants.audit import verify
from grants.demo import load_demo
from grants.errors import AppError
from grants.extensions import db
from grants.grant.models import Grant
from grants.grant.services import interim_due_on
from grants.http.users.schemas import UserCreateSchema
from grants.rates.services import import_csv
from grants.reminders.services import send_reminders
from grants.users.services import create_user
from workflows.grant import COMMITTED, ROLES

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--city-id", type=int, default=None, help="The city of a city member.")
@click.option("--mentor-city-id", type=int, multiple=True, help="A city a mentor follows.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted if omitted.",
)
def create_user_command(
    email: str, role: str, city_id: int | None, mentor_city_id: tuple[int, ...], password: str
) -> None:
    """Create a user with EMAIL and a role."""
    raw = {"email": email, "password": password, "role": role}
    if city_id is not None:
        raw["city_id"] = city_id
    if mentor_city_id:
        raw["mentor_city_ids"] = list(mentor_city_id)
    try:
        data = UserCreateSchema().load(raw)
        user = create_user(data, actor=None)
        db.session.commit()
    except ValidationError as exc:
        raise click.ClickException(f"invalid: {exc.messages}") from exc
    except AppError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created user {user.id}: {user.email} ({user.role})")


@click.command("demo")
def demo_command() -> None:
    """Load demo data: the real Pearls, their titles, one user per role and sample grants."""
    for line in load_demo():
        click.echo(line)


rates_cli = AppGroup("rates", help="Monthly exchange rates.")


@rates_cli.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8"))
def import_rates_command(csv_file: click.File) -> None:
    """Import InforEuro rates from a CSV of month,currency,rate (all rows or none)."""
    try:
        count = import_csv(csv_file, actor=None)
        db.session.commit()
    except ValueError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {count} rates")


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify_audit_command() -> None:
    """Walk the audit chain; exit 1 naming the first event that was altered, removed or added."""
    verdict = verify(db.session)
    if not verdict.ok:
        click.echo(f"audit trail BROKEN: {verdict.message}", err=True)
        raise SystemExit(1)
    click.echo(f"audit trail OK: {verdict.message}")


reminders_cli = AppGroup("reminders", help="Report reminders.")


@reminders_cli.command("send")
def send_reminders_command() -> None:
    """Send due and overdue report reminders (for cron or the RQ scheduler); each once."""
    click.echo(f"sent {send_reminders()} reminders")


agreements_cli = AppGroup("agreements", help="Grant agreements.")


@agreements_cli.command("issue-missing")
def issue_missing_agreements_command() -> None:
    """Issue version 1 of the agreement of every approved, not yet ended grant that has none
    (grants approved before agreements existed); each waits for the city's signature."""
    have = select(GrantAgreement.grant_id)
    grants = db.session.scalars(
        select(Grant).where(Grant.state.in_(COMMITTED), Grant.id.not_in(have)).order_by(Grant.id)
    ).all()
    for grant in grants:
        issue_agreement(grant, interim_due_on=interim_due_on(grant), actor=None)
    db.session.commit()
    click.echo(f"issued {len(grants)} agreements")


def register_cli(app: Flask) -> None:
    app.cli.add_command(reminders_cli)
    app.cli.add_command(audit_cli)

    app.cli.add_command(exports_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(rates_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(agreements_cli)
