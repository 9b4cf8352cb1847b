"""Cities and titles as the API shows them; money only to those who may see it."""

from __future__ import annotations

from typing import Any

from grants.cities.models import City, Title
from grants.figures import paid_cents_by_title, paid_cents_by_titles
from grants.users.models import User


def title_paid_cents(title_id: int) -> int:
    """Seed money paid out under a title, net of nothing (recoveries are shown apart)."""
    return paid_cents_by_title(title_id)


def title_figures(title: Title, user: User, *, paid: int | None = None) -> dict[str, Any]:
    """A title as the API shows it; money only for those who may see the city's figures."""
    out: dict[str, Any] = {
        "id": title.id,
        "city_id": title.city_id,
        "year": title.year,
        "valid_from": title.valid_from,
        "valid_until": title.valid_until,
        "cap": None,
        "committed": None,
        "paid": None,
        "available": None,
    }
    if user.can_see_city_figures(title.city_id):
        out.update(
            cap=title.cap_cents,
            committed=title.committed_cents,
            paid=title_paid_cents(title.id) if paid is None else paid,
            available=title.available_cents,
        )
    return out


def cities_out(cities: list[City], user: User) -> list[dict[str, Any]]:
    """Many cities, with the paid figure of all their titles in one grouped query."""
    paid = paid_cents_by_titles([t.id for c in cities for t in c.titles])
    return [city_out(c, user, paid=paid) for c in cities]


def city_out(city: City, user: User, *, paid: dict[int, int] | None = None) -> dict[str, Any]:
    paid = paid if paid is not None else {}
    return {
        "id": city.id,
        "name": city.name,
        "country": city.country,
        "population": city.population,
        "is_capital": city.is_capital,
        "titles": [title_figures(t, user, paid=paid.get(t.id)) for t in city.titles],
    }
