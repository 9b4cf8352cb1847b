"""Demo data: the real 2024–2025 Pearls, titles valid today, one user per role, sample grants."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from importlib import resources
from typing import Any

from sqlalchemy import func, select

from grants.banking.services import decide_account, propose_account
from grants.budget.services import set_budget
from grants.cities.models import City
from grants.cities.services import create_title
from grants.db import today
from grants.extensions import db
from grants.grant.services import create_grant, transition_grant
from grants.users.models import User
from grants.users.services import create_user

DEMO_PASSWORD = "pearl-demo-2025"  # noqa: S105  # nosec B105


def pearls() -> list[dict[str, str]]:
    """The Pearls of 2024 and 2025 (a copy of shared/data/pearls.csv, shipped with the code)."""
    text = resources.files("grants").joinpath("demo_data/pearls.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _login_lines() -> Iterator[str]:
    yield f"Demo logins (password for all: {DEMO_PASSWORD}):"
    for user in db.session.scalars(select(User).order_by(User.id)):
        where = f" — {user.city.name}" if user.city else ""
        yield f"  {user.role:<16} {user.email}{where}"


def load_demo() -> Iterator[str]:
    """Load the demo data into an empty database; on a loaded one, only print the logins."""
    if db.session.scalar(select(func.count(City.id))):
        yield "Demo data is loaded already."
        yield from _login_lines()
        return

    now = today()
    admin = create_user(
        {"email": "admin@pearl.example", "password": DEMO_PASSWORD, "role": "admin"}, actor=None
    )
    cities: dict[str, City] = {}
    for row in pearls():
        city = City(name=row["city"], country=row["country"], is_capital=False)
        db.session.add(city)
        db.session.flush()
        year = int(row["title_year"])
        # The real titles ran in their year; the demo lets them run until next year's end so
        # that every demo city can propose today.
        create_title(
            city,
            {
                "year": year,
                "valid_from": dt.date(year, 1, 1),
                "valid_until": dt.date(now.year + 1, 12, 31),
            },
            actor=admin,
        )
        cities[city.name] = city

    def user(email: str, role: str, **extra: Any) -> User:
        return create_user(
            {"email": email, "password": DEMO_PASSWORD, "role": role, **extra}, actor=admin
        )

    svendborg, kiel, plock = cities["Svendborg"], cities["Kiel"], cities["Płock"]
    finance = user("finance@pearl.example", "finance_officer")
    user("finance2@pearl.example", "finance_officer")
    user("mentor@pearl.example", "mentor", mentor_city_ids=[svendborg.id, kiel.id])
    user("auditor@pearl.example", "auditor")
    members = {
        c.name: user(email, "city_member", city_id=c.id)
        for c, email in (
            (svendborg, "svendborg@pearl.example"),
            (kiel, "kiel@pearl.example"),
            (plock, "plock@pearl.example"),
        )
    }

    start, end = now + dt.timedelta(days=14), now + dt.timedelta(days=180)

    def grant(city: str, title: str, lines: list[tuple[str, str, int]], *events: str) -> None:
        member = members[city]
        g = create_grant(
            {
                "title": title,
                "summary": f"{title}: a pilot from the city's Culture and Resilience Action Plan.",
                "start_date": start,
                "end_date": end,
                "budget_lines": [
                    {"category": c, "description": d, "amount": a} for c, d, a in lines
                ],
            },
            actor=member,
        )
        for event in events:
            actor = member if event in ("submit", "withdraw") else finance
            comment = "Please add the venue costs." if event == "request_changes" else None
            if event == "reject":
                comment = "Outside the action plan's aims."
            transition_grant(g, event, actor=actor, comment=comment)

    grant(
        "Svendborg",
        "Harbour stories festival",
        [("fees", "Storytellers' fees", 150000), ("venue", "Harbour warehouse", 80000)],
        "submit",
        "approve",
    )
    grant(
        "Svendborg",
        "Neighbourhood choir",
        [("fees", "Choir leader", 120000), ("materials", "Sheet music", 20000)],
        "submit",
    )
    grant("Kiel", "Open studios", [("equipment", "Printing press hire", 90000)])
    grant(
        "Kiel",
        "Youth theatre exchange",
        [("travel", "Ferry tickets", 60000), ("fees", "Workshop leaders", 100000)],
        "submit",
        "request_changes",
    )
    grant(
        "Płock",
        "Vistula river lights",
        [("materials", "Lanterns", 200000), ("communication", "Posters", 30000)],
        "submit",
        "reject",
    )
    # The 2024 programme budget, nearly spent: 700.00 left after the harbour festival, so the
    # neighbourhood choir's 1,400.00 cannot be approved in full. 2025 has no budget set.
    set_budget(2024, 300000, actor=admin)
    # Bank accounts: Svendborg's and Płock's verified (proposed by the city, verified by a
    # finance officer), so that their payouts can be authorised; Kiel's waits for verification.
    for city, holder, iban in (
        ("Svendborg", "Svendborg Kommune", "DK50 0040 0440 1162 43"),
        ("Płock", "Gmina Miasto Płock", "PL61 1090 1014 0000 0712 1981 2874"),
        ("Kiel", "Landeshauptstadt Kiel", "DE89 3704 0044 0532 0130 00"),
    ):
        account = propose_account(
            cities[city].id, {"holder": holder, "iban": iban}, actor=members[city]
        )
        if city != "Kiel":
            decide_account(account, {"event": "verify"}, actor=finance)
    db.session.commit()
    yield (
        f"Loaded {len(cities)} Pearls with titles, {len(members) + 5} users, 5 grants and the "
        "2024 programme budget; two verified bank accounts, Kiel's waiting for verification."
    )
    yield from _login_lines()
