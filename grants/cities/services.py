"""Cities, titles and eligibility: who may ask for seed money, and from which title."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.util import identity_key

from grants import audit
from grants.audit import Action
from grants.cities.models import City, Title
from grants.db import today
from grants.errors import CapExceeded, CityNotEligible, TitleOverlap
from grants.extensions import db
from grants.money import shown_money

if TYPE_CHECKING:  # the actor of an event: a type only, cities come before users
    from grants.users.models import User


def create_city(data: dict[str, Any], *, actor: User) -> City:
    city = City(**data)
    db.session.add(city)
    db.session.flush()
    audit.log(
        Action.CITY_CREATED,
        city,
        actor=actor,
        data={k: v for k, v in data.items()},
    )
    return city


def create_title(city: City, data: dict[str, Any], *, actor: User) -> Title:
    """Award a title; the validities of one city's titles may not overlap.

    Concurrent awards of one city serialise on the city's row (``FOR NO KEY UPDATE``: it does
    not block inserts that merely reference the city), so each checks the overlap against the
    titles committed before it; SQLite takes the write lock up front.
    """
    cap = data.get("cap", current_app.config["SEED_MONEY_CAP_CENTS"])
    lock_city(city.id)
    clash = db.session.scalar(
        select(Title).where(
            Title.city_id == city.id,
            (Title.year == data["year"])
            | (
                (Title.valid_from <= data["valid_until"])
                & (Title.valid_until >= data["valid_from"])
            ),
        )
    )
    if clash is not None:
        raise TitleOverlap(
            f"{city.name} already holds the {clash.year} title, valid "
            f"{clash.valid_from} to {clash.valid_until}, which overlaps this one."
        )
    title = Title(
        city=city,
        year=data["year"],
        valid_from=data["valid_from"],
        valid_until=data["valid_until"],
        cap_cents=cap,
    )
    db.session.add(title)
    db.session.flush()
    audit.log(
        Action.TITLE_AWARDED,
        title,
        actor=actor,
        data={
            "city_id": city.id,
            "year": title.year,
            "valid_from": title.valid_from.isoformat(),
            "valid_until": title.valid_until.isoformat(),
            "cap_cents": cap,
        },
    )
    return title


def lock_city(city_id: int) -> None:
    """Hold the city's row until the transaction ends (a no-op where rows are not locked)."""
    db.session.execute(select(City.id).where(City.id == city_id).with_for_update(key_share=True))


def eligible_title(city: City, *, on: dt.date | None = None) -> Title:
    """The title under which ``city`` may propose a pilot today, or 409 ``city_not_eligible``."""
    on = on or today()
    countries = current_app.config["ELIGIBLE_COUNTRIES"]
    if city.country not in countries:
        raise CityNotEligible(
            f"{city.name} is in {city.country}, which is not an eligible country "
            f"({', '.join(countries)})."
        )
    if city.is_capital:
        raise CityNotEligible(f"{city.name} is a capital; capitals are not eligible.")
    title = city.title_on(on)
    if title is None:
        raise CityNotEligible(f"{city.name} holds no BSR Cultural Pearls title valid on {on}.")
    return title


def commit_to_cap(title_id: int, cents: int) -> None:
    """Add ``cents`` to the title's committed total, atomically, only if the cap allows it.

    One guarded UPDATE: concurrent approvals serialise on the title row and each re-checks the
    condition against the committed value of the one before (PostgreSQL's READ COMMITTED
    re-evaluates the WHERE clause after the lock wait); SQLite takes the write lock up front.
    """
    result = db.session.execute(
        update(Title)
        .where(Title.id == title_id, Title.committed_cents + cents <= Title.cap_cents)
        .values(committed_cents=Title.committed_cents + cents)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        title = db.session.get(Title, title_id, populate_existing=True)
        if title is None:
            raise CapExceeded()
        raise CapExceeded(
            f"{shown_money(cents)} is more than the title's seed money left: cap "
            f"{shown_money(title.cap_cents)}, committed {shown_money(title.committed_cents)}, "
            f"available {shown_money(title.available_cents)}."
        )
    _expire_title(title_id)


def release_from_cap(title_id: int, cents: int) -> None:
    """Return ``cents`` of committed money to the title's headroom (never below zero)."""
    if cents <= 0:
        return
    db.session.execute(
        update(Title)
        .where(Title.id == title_id)
        .values(committed_cents=Title.committed_cents - cents)
        .execution_options(synchronize_session=False)
    )
    _expire_title(title_id)


def _expire_title(title_id: int) -> None:
    """Let a loaded title re-read the counter that a bulk UPDATE changed."""
    title = db.session.identity_map.get(identity_key(Title, title_id))
    if title is not None:
        db.session.expire(title, ["committed_cents"])
