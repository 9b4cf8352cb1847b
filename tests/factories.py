"""Factories that build each kind of object directly in the database, and an API caller."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from flask import Flask
from fpdf import FPDF
from werkzeug.security import generate_password_hash

from grants.agreements.models import GrantAgreement
from grants.agreements.pdf import Terms
from grants.agreements.services import issue_agreement
from grants.banking.models import VERIFIED, BankAccount
from grants.banking.numbers import parse_iban
from grants.cities.models import City, Title
from grants.db import today, utcnow
from grants.db import utcnow as now_utc
from grants.extensions import db
from grants.grant.models import BudgetLine, Grant
from grants.grant.services import interim_due_on
from grants.users.credentials import issue_token
from grants.users.models import User
from workflows.agreement import AWAITING_CITY, AWAITING_COUNTERSIGNATURE, SIGNED
from workflows.grant import COMMITTED

PASSWORD = "correct horse battery"
_PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
_seq = itertools.count(1)


def setup_pdf(terms: Terms) -> bytes:
    """A small real PDF naming the agreement, for the agreements of grants the factory makes
    as setup: the full agreement takes a tenth of a second to lay out and embed its fonts, and
    the suite makes thousands of such grants. What an agreement says is tested through the
    service's own PDF (tests/test_agreements.py, which approves through the API)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, f"Grant agreement {terms.reference}, version {terms.version} (test setup)")
    return bytes(pdf.output())


@dataclass
class Caller:
    """A signed-in user calling the JSON API through the test client."""

    client: Any
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, json: Any = None, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.open(f"/api/v1{path}", method=method, json=json, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.call("PUT", path, json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    def fire(self, grant_id: int, event: str, **body: Any) -> Any:
        return self.post(f"/grants/{grant_id}/transitions", {"event": event, **body})


class Factory:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._bank_officers: tuple[User, User] | None = None
        self._agreement_officer: User | None = None

    def city(
        self,
        name: str | None = None,
        *,
        country: str = "DK",
        is_capital: bool = False,
        title: bool = True,
        valid_from: dt.date | None = None,
        valid_until: dt.date | None = None,
        cap: int = 500_000,
        year: int | None = None,
        bank_account: bool = True,
    ) -> City:
        """A city with a current title and, by default, a verified bank account (payouts are
        authorised only against one)."""
        city = City(name=name or f"City {next(_seq)}", country=country, is_capital=is_capital)
        db.session.add(city)
        db.session.flush()
        if title:
            self.title(city, valid_from=valid_from, valid_until=valid_until, cap=cap, year=year)
        if bank_account:
            self.bank_account(city)
        db.session.commit()
        return city

    def bank_account(
        self,
        city: City,
        *,
        state: str = VERIFIED,
        iban: str | None = None,
        holder: str | None = None,
        proposed_by: User | None = None,
    ) -> BankAccount:
        """A bank account of ``city`` put straight into ``state`` (verified: in force),
        proposed and verified by two finance officers kept for the test (four eyes)."""
        if self._bank_officers is None:
            self._bank_officers = (self.user("finance_officer"), self.user("finance_officer"))
        proposer, verifier = self._bank_officers
        proposer = proposed_by or proposer
        compact, _ = parse_iban(iban or "DE89370400440532013000")
        account = BankAccount(
            city_id=city.id,
            holder=holder or f"Municipality of {city.name}",
            iban=compact,
            bic="COBADEFFXXX" if iban is None else None,
            state=state,
            proposed_by_id=proposer.id,
            verified_by_id=verifier.id if state == VERIFIED else None,
            verified_at=now_utc() if state == VERIFIED else None,
        )
        db.session.add(account)
        db.session.commit()
        return account

    def title(
        self,
        city: City,
        *,
        valid_from: dt.date | None = None,
        valid_until: dt.date | None = None,
        cap: int = 500_000,
        year: int | None = None,
    ) -> Title:
        now = today()
        valid_from = valid_from or now - dt.timedelta(days=200)
        valid_until = valid_until or now + dt.timedelta(days=365)
        title = Title(
            city_id=city.id,
            year=year or valid_from.year,
            valid_from=valid_from,
            valid_until=valid_until,
            cap_cents=cap,
        )
        db.session.add(title)
        db.session.commit()
        db.session.refresh(city)
        return title

    def user(
        self, role: str, *, city: City | None = None, mentor_of: tuple[City, ...] = ()
    ) -> User:
        user = User(
            email=f"{role}{next(_seq)}@test.example",
            password_hash=_PASSWORD_HASH,
            role=role,
            city_id=city.id if city else None,
        )
        user.mentor_cities = list(mentor_of)
        db.session.add(user)
        db.session.commit()
        return user

    def caller(self, user: User) -> Caller:
        raw, _ = issue_token(user)
        db.session.commit()
        return Caller(self.app.test_client(), user, raw)

    def as_role(self, role: str, *, city: City | None = None, **kw: Any) -> Caller:
        return self.caller(self.user(role, city=city, **kw))

    def in_scope(self, role: str, city: City) -> Caller:
        """A caller of ``role`` who may see ``city``'s grants: one of its members, one of its
        mentors, or programme staff (who see every city)."""
        if role == "city_member":
            return self.as_role(role, city=city)
        if role == "mentor":
            return self.as_role(role, mentor_of=(city,))
        return self.as_role(role)

    def grant(
        self,
        city: City,
        *,
        state: str = "draft",
        amounts: tuple[int, ...] = (100_000,),
        approved: int | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        author: User | None = None,
        agreement: str | None = SIGNED,
    ) -> Grant:
        """A grant put straight into ``state`` (for tables of states); keeps the cap counter.

        An approved (or later) grant has its agreement issued and, by default, signed by both
        sides (``agreement``: an agreement state, or None for none), as payouts need it."""
        title = city.title_on(today()) or city.titles[-1]
        author = author or self.user("city_member", city=city)
        start = start or max(title.valid_from, today())
        end = end or min(title.valid_until, start + dt.timedelta(days=90))
        grant = Grant(
            city_id=city.id,
            title_id=title.id,
            title=f"Pilot {next(_seq)}",
            summary="A pilot",
            start_date=start,
            end_date=end,
            state=state,
            requested_cents=sum(amounts),
            created_by_id=author.id,
            budget_lines=[
                BudgetLine(position=i, category="fees", description=f"Line {i}", amount_cents=a)
                for i, a in enumerate(amounts, 1)
            ],
        )
        if state in COMMITTED or state in ("closed", "terminated"):
            grant.approved_cents = approved or sum(amounts)
            if state in COMMITTED:
                title.committed_cents += grant.approved_cents
        db.session.add(grant)
        if agreement and (state in COMMITTED or state in ("closed", "terminated")):
            db.session.flush()
            self.agreement(grant, state=agreement, signer=author)
        db.session.commit()
        return grant

    def agreement(
        self, grant: Grant, *, state: str = SIGNED, signer: User | None = None
    ) -> GrantAgreement:
        """Issue ``grant``'s agreement (the next version) and put it straight into ``state``:
        signed by ``signer`` (a member of its city) and countersigned by a finance officer."""
        row = issue_agreement(
            grant,
            interim_due_on=interim_due_on(grant),
            actor=None,
            record=False,
            build=setup_pdf,
        )
        if state != AWAITING_CITY:
            signer = signer or self.user("city_member", city=grant.city)
            row.city_signed_by_id = signer.id
            row.city_signatory_name = signer.email.split("@")[0].replace(".", " ").title()
            row.city_signed_at = utcnow()
            row.city_signed_sha256 = row.sha256
            row.state = AWAITING_COUNTERSIGNATURE
        if state == SIGNED:
            if self._agreement_officer is None:
                self._agreement_officer = self.user("finance_officer")
            row.countersigned_by_id = self._agreement_officer.id
            row.countersigned_at = utcnow()
            row.state = SIGNED
        db.session.flush()
        return row
