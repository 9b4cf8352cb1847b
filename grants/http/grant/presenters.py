"""The grant as the API and the pages show it: its fields, figures, events and reports due."""

from __future__ import annotations

from typing import Any

from grants.figures import figures_for, grant_figures
from grants.grant.models import Grant, GrantFigures
from grants.grant.services import available_events, reports_due
from grants.users.models import User


def grants_out(grants: list[Grant], user: User) -> list[dict[str, Any]]:
    """Many grants as the API shows them, with their figures computed in grouped queries."""
    missing = [g for g in grants if g.loaded_paid_cents is None]
    figures = figures_for((g.id, g.state, g.approved_cents) for g in missing) if missing else {}
    return [grant_out(g, user, figures=figures.get(g.id)) for g in grants]


def grant_out(grant: Grant, user: User, *, figures: GrantFigures | None = None) -> dict[str, Any]:
    figures = figures or grant_figures(grant)
    return {
        "id": grant.id,
        "city_id": grant.city_id,
        "city_name": grant.city.name,
        "title_year": grant.title_year,
        "title": grant.title,
        "summary": grant.summary,
        "start_date": grant.start_date,
        "end_date": grant.end_date,
        "state": grant.state,
        "requested_amount": grant.requested_cents,
        "approved_amount": grant.approved_cents,
        "paid_amount": figures.paid,
        "recovered_amount": figures.recovered,
        "reported_eur": figures.reported_eur,
        "eligible_eur": figures.eligible_eur,
        "balance_due": figures.balance_due,
        "recovery_due": figures.recovery_due,
        "budget_lines": grant.budget_lines,
        "available_events": available_events(grant, user),
        "reports_due": reports_due(grant),
        "created_at": grant.created_at,
        "updated_at": grant.updated_at,
    }
