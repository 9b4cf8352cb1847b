"""The output of a title year's programme budget."""

from __future__ import annotations

from typing import Any

from grants.budget.models import YearFigures


def year_out(figures: YearFigures) -> dict[str, Any]:
    """A title year as the API returns it (money in cents here, strings at the schema)."""
    return {
        "year": figures.year,
        "budget": figures.budget,
        "committed": figures.committed,
        "paid": figures.paid,
        "recovered": figures.recovered,
        "available": figures.available,
    }
