"""The scenario: what the generator knows about the grants, and the users' actions (the mix)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.load.chaos import Outages
from bench.load.client import Client, Reply, User
from bench.load.config import API, CATEGORIES, EXPORT_EVERY, EXPORT_WAIT, RATES, XLSX, utc_today
from bench.load.contract import (
    EXPORT_KEYS,
    GRANT_STATES,
    TARGET,
    check_city,
    check_error,
    check_export,
    check_grant,
    check_history,
    check_page,
    check_payout,
    check_report,
    has_keys,
    need,
)
from bench.load.oracle import cents, money
from bench.load.report import Stats
from workflows import grant as grants
from workflows import payout as payouts
from workflows import report as reports

#: The grant's state after its report of each kind is accepted.
REPORTED = {reports.INTERIM: grants.INTERIM_REPORTED, reports.FINAL: grants.FINAL_REPORTED}
#: The states a finance officer may terminate a grant from (the table's "terminate" row).
TERMINABLE = grants.GRANT.transition("terminate").sources

# ---------------------------------------------------------------------------------------------
# What the generator knows about the grants (from the answers it got)


class Bag:
    """A set with O(1) random choice."""

    def __init__(self) -> None:
        self.items: list[int] = []
        self.pos: dict[int, int] = {}

    def add(self, item: int) -> None:
        if item not in self.pos:
            self.pos[item] = len(self.items)
            self.items.append(item)

    def discard(self, item: int) -> None:
        i = self.pos.pop(item, None)
        if i is None:
            return
        last = self.items.pop()
        if last != item:
            self.items[i] = last
            self.pos[last] = i

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class G:
    id: int
    city_id: int
    state: str
    requested: int
    approved: int | None = None
    updated: str = ""
    busy: bool = False
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)  # authorised, not yet confirmed


class World:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.grants: dict[int, G] = {}
        self.by_state: dict[str, Bag] = defaultdict(Bag)
        self.all: list[int] = []

    def add(self, body: dict[str, Any], *, busy: bool) -> G:
        g = G(
            id=body["id"],
            city_id=body["city_id"],
            state=body["state"],
            requested=cents(body["requested_amount"]),
            updated=body["updated_at"],
            busy=busy,
        )
        with self.lock:
            self.grants[g.id] = g
            self.by_state[g.state].add(g.id)
            self.all.append(g.id)
        return g

    def update(self, g: G, body: dict[str, Any]) -> None:
        """Take the grant's figures from an answer, unless a newer answer was taken already."""
        with self.lock:
            if dt.datetime.fromisoformat(body["updated_at"]) < dt.datetime.fromisoformat(g.updated):
                return
            g.updated = body["updated_at"]
            g.requested = cents(body["requested_amount"])
            approved = body["approved_amount"]
            g.approved = cents(approved) if approved else None
            if body["state"] != g.state:
                self.by_state[g.state].discard(g.id)
                g.state = body["state"]
                self.by_state[g.state].add(g.id)

    def pick(self, rnd: random.Random, states: Iterable[str], *, claim: bool = True) -> G | None:
        with self.lock:
            bags = [self.by_state[s] for s in states if len(self.by_state[s])]
            for _ in range(12):
                if not bags:
                    return None
                bag = rnd.choices(bags, weights=[len(b) for b in bags])[0]
                g = self.grants[bag.items[rnd.randrange(len(bag))]]
                if g.busy and claim:
                    continue
                if claim:
                    g.busy = True
                return g
            return None

    def release(self, g: G) -> None:
        with self.lock:
            g.busy = False

    def any(self, rnd: random.Random) -> G | None:
        with self.lock:
            return self.grants[rnd.choice(self.all)] if self.all else None


# ---------------------------------------------------------------------------------------------
# The load: client threads, each a stream of users' actions


@dataclass
class Ctx:
    port: int
    stats: Stats
    world: World
    members: dict[int, User]
    officers: list[User]
    auditor: User
    admin: User
    year: int
    end: float
    export_ids: list[int] = field(default_factory=list)
    export_every: float = EXPORT_EVERY
    outages: Outages | None = None  # --chaos
    export_now: threading.Event = field(default_factory=threading.Event)  # chaos asks for one
    statement_requested: threading.Event = field(default_factory=threading.Event)  # 202 came


class Driver:
    MIX = (
        ("read_list", 40),
        ("read_grant", 35),
        ("read_history", 12),
        ("read_related", 15),
        ("read_cities", 12),
        ("read_rates", 3),
        ("read_me", 2),
        ("propose", 5),
        ("decide", 5),
        ("rework", 1.5),
        ("advance", 4),
        ("interim", 3.5),
        ("final", 3.5),
        ("settle", 3),
        ("terminate", 0.3),
        ("comment", 3),
    )

    def __init__(self, ctx: Ctx, seed: int, *, as_user: User | None = None) -> None:
        self.ctx = ctx
        self.as_user = as_user  # the auditor's thread reads as the auditor
        self.w = ctx.world
        self.rnd = random.Random(seed)
        self.c = Client(ctx.port, ctx.stats, ctx.outages)
        self.city_ids = sorted(ctx.members)
        # Some Pearls are busier than others (Zipf-like): their titles meet the cap first.
        self.activity = [1 / rank**0.7 for rank in range(1, len(self.city_ids) + 1)]

    # -- helpers ----------------------------------------------------------------------------

    def officer(self, *, not_id: int | None = None) -> User:
        return self.rnd.choice([o for o in self.ctx.officers if o.id != not_id])

    def staff(self) -> User:
        if self.as_user is not None:
            return self.as_user
        x = self.rnd.random()
        if x < 0.7:
            return self.officer()
        return self.ctx.admin if x < 0.85 else self.ctx.auditor

    def member_reads(self, share: float) -> bool:
        return self.as_user is None and self.rnd.random() < share

    def key(self) -> str | None:
        return f"load-{uuid.uuid4().hex}" if self.rnd.random() < 0.3 else None

    def get_grant(self, g: G, user: User | None = None, state: str | None = None) -> Reply:
        user = user or self.officer()
        r = self.c.call(
            "GET /grants/{id}",
            "GET",
            f"{API}/grants/{g.id}",
            user,
            check=lambda b, h: check_grant(b, grant_id=g.id, city_id=g.city_id, state=state),
        )
        if r.ok:
            self.w.update(g, r.body)
        return r

    def fire(
        self,
        g: G,
        user: User,
        event: str,
        *,
        comment: str | None = None,
        approved: int | None = None,
        refusals: Iterable[str] = (),
    ) -> Reply:
        body: dict[str, Any] = {"event": event}
        if comment:
            body["comment"] = comment
        if approved is not None:
            body["approved_amount"] = money(approved)
        expect = approved if approved is not None else g.requested
        key = self.key()
        r = self.c.call(
            f"grant {event}",
            "POST",
            f"{API}/grants/{g.id}/transitions",
            user,
            body,
            refusals=refusals,
            key=key,
            replay=self.rnd.random() < 0.2,
            check=lambda b, h: check_grant(
                b,
                grant_id=g.id,
                state=TARGET[event],
                approved=expect if event == "approve" else None,
            ),
        )
        if r.ok:
            self.w.update(g, r.body)
        elif r.outcome == "refused":
            self.get_grant(g)
        return r

    def sign_agreement(self, g: G, member: User, officer: User) -> None:
        """The city's member signs the grant agreement, a finance officer countersigns."""
        path = f"{API}/grants/{g.id}/agreement/transitions"
        for user, body in (
            (member, {"event": "sign", "signatory_name": "Łucja Bērziņa"}),
            (officer, {"event": "countersign"}),
        ):
            key = self.key()
            self.c.call(
                f"agreement {body['event']}",
                "POST",
                path,
                user,
                body,
                refusals=("invalid_transition",),
                key=key,
                replay=self.rnd.random() < 0.1,
            )

    def authorise(self, g: G, officer: User, kind: str, amount: int | None) -> dict | None:
        key = f"load-{uuid.uuid4().hex}"
        r = self.c.call(
            f"POST /grants/{{id}}/disbursements ({kind})",
            "POST",
            f"{API}/grants/{g.id}/disbursements",
            officer,
            {"kind": kind},
            ok=(201,),
            key=key,
            replay=self.rnd.random() < 0.1,
            check=lambda b, h: check_payout(
                b, kind=kind, state=payouts.AUTHORISED, amount=amount, grant_id=g.id
            ),
        )
        if not r.ok:
            return None
        payout = {"id": r.body["id"], "kind": kind, "by": officer.id}
        g.pending.append(payout)
        return payout

    def confirm(self, g: G, payout: dict[str, Any], officer: User) -> Reply:
        body = {
            "event": "confirm_paid",
            "paid_on": utc_today().isoformat(),
            "payment_reference": f"LOAD-{payout['id']}",
        }
        r = self.c.call(
            "payout confirm_paid",
            "POST",
            f"{API}/disbursements/{payout['id']}/transitions",
            officer,
            body,
            key=self.key(),
            replay=self.rnd.random() < 0.1,
            check=lambda b, h: check_payout(b, state=payouts.PAID, confirmed_by=officer.id),
        )
        if r.ok:
            g.pending.remove(payout)
        return r

    def cancel(self, g: G, payout: dict[str, Any], officer: User) -> Reply:
        r = self.c.call(
            "payout cancel",
            "POST",
            f"{API}/disbursements/{payout['id']}/transitions",
            officer,
            {"event": "cancel", "comment": "Authorised in error."},
            check=lambda b, h: check_payout(b, state=payouts.CANCELLED),
        )
        if r.ok:
            g.pending.remove(payout)
        return r

    def budget(self, total: int | None = None) -> list[dict[str, Any]]:
        rnd = self.rnd
        if total is None:
            amounts = [rnd.randint(100_00, 800_00) for _ in range(rnd.randint(1, 3))]
        else:
            first = total // 2 if total >= 2_00 and rnd.random() < 0.5 else total
            amounts = [a for a in (first, total - first) if a > 0]
        return [
            {
                "category": (cat := rnd.choice(CATEGORIES)),
                "description": f"{cat.capitalize()} for the pilot",
                "amount": money(a),
            }
            for a in amounts
        ]

    def expenses(self, g: G, share: tuple[float, float]) -> list[dict[str, Any]]:
        rnd = self.rnd
        total = max(3_00, int((g.approved or g.requested) * rnd.uniform(*share)))
        n = rnd.randint(1, 3)
        parts = [total // n] * (n - 1) + [total - total // n * (n - 1)]
        lines = []
        for i, eur in enumerate(parts, start=1):
            currency = rnd.choices(("EUR", "DKK", "SEK"), weights=(50, 42, 8))[0]
            amount = eur
            if currency != "EUR":
                amount = int(
                    (Decimal(eur) * Decimal(RATES[currency])).quantize(Decimal(1), ROUND_HALF_UP)
                )
            vat = amount // 5 if rnd.random() < 0.5 else 0
            day = (utc_today() - dt.timedelta(days=rnd.randint(0, 10))).isoformat()
            lines.append(
                {
                    "invoice_number": f"INV-{g.id}-{rnd.randint(1, 10**6)}-{i}",
                    "invoice_date": day,
                    "payment_date": day,
                    "supplier": rnd.choice(("Harbour Hall", "Print & Co", "Lantern Crew")),
                    "description": "Workshop costs",
                    "category": rnd.choice(CATEGORIES),
                    "currency": currency,
                    "amount": money(amount),
                    "vat_amount": money(vat),
                    "vat_recoverable": rnd.random() < 0.3,
                }
            )
        return lines

    # -- reads ------------------------------------------------------------------------------

    def read_list(self) -> bool:
        rnd = self.rnd
        member = None
        if self.member_reads(0.4):
            member = self.ctx.members[rnd.choice(self.city_ids)]
            user = member
        else:
            user = self.staff()
        page = rnd.choice((1, 1, 1, 2, 3))
        size = rnd.choice((10, 20, 20, 50, 100))
        query: dict[str, Any] = {"page": page, "page_size": size}
        if rnd.random() < 0.35:
            query["state"] = rnd.choice(GRANT_STATES)
        if member is None and rnd.random() < 0.2:
            query["city_id"] = rnd.choice(self.city_ids)
        if rnd.random() < 0.2:
            query["title_year"] = self.ctx.year
        city = member.city_id if member else query.get("city_id")

        def check(body: Any, headers: dict[str, str]) -> None:
            check_page(body, headers, page, size)
            for i, g in enumerate(body):
                check_grant(g, state=query.get("state"), city_id=city, full=i < 3)

        self.c.call("GET /grants", "GET", f"{API}/grants?{urlencode(query)}", user, check=check)
        return True

    def read_grant(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        x = self.rnd.random()
        if x < 0.05 and self.as_user is None:
            others = [c for c in self.city_ids if c != g.city_id]
            stranger = self.ctx.members[self.rnd.choice(others)]
            self.c.call(
                "GET /grants/{id} (outside scope)",
                "GET",
                f"{API}/grants/{g.id}",
                stranger,
                ok=(404,),
                check=lambda b, h: check_error(b, 404),
            )
            return True
        user = self.ctx.members[g.city_id] if self.member_reads(0.35) else self.staff()
        self.c.call(
            "GET /grants/{id}",
            "GET",
            f"{API}/grants/{g.id}",
            user,
            check=lambda b, h: check_grant(b, grant_id=g.id, city_id=g.city_id),
        )
        return True

    def read_history(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        member = self.member_reads(0.3)
        user = self.ctx.members[g.city_id] if member else self.staff()
        self.c.call(
            "GET /grants/{id}/history",
            "GET",
            f"{API}/grants/{g.id}/history",
            user,
            check=lambda b, h: check_history(b, member=member),
        )
        return True

    def read_related(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return self.read_cities()
        member = self.member_reads(0.3)
        user = self.ctx.members[g.city_id] if member else self.staff()
        what = self.rnd.choice(("reports", "disbursements", "comments"))

        def check(body: Any, headers: dict[str, str]) -> None:
            need(isinstance(body, list), f"{what} is not a list")
            for item in body:
                need(item.get("grant_id") == g.id, f"{what} of another grant")
                if what == "reports":
                    check_report(item)
                elif what == "disbursements":
                    check_payout(item)
                else:
                    has_keys(item, ("id", "author", "body", "visibility", "created_at"), "comment")
                    if member:
                        need(item["visibility"] == "shared", "a member sees an internal comment")

        self.c.call(
            f"GET /grants/{{id}}/{what}", "GET", f"{API}/grants/{g.id}/{what}", user, check=check
        )
        return True

    def read_cities(self) -> bool:
        rnd = self.rnd
        member = self.member_reads(0.4)
        user = self.ctx.members[rnd.choice(self.city_ids)] if member else self.staff()

        def figures(city_id: int) -> bool:
            return not member or city_id == user.city_id

        if rnd.random() < 0.5:
            page, size = rnd.choice(((1, 20), (2, 20), (1, 50)))

            def check(body: Any, headers: dict[str, str]) -> None:
                check_page(body, headers, page, size)
                for c in body:
                    check_city(c, figures=figures(c["id"]))

            query = urlencode({"page": page, "page_size": size})
            self.c.call("GET /cities", "GET", f"{API}/cities?{query}", user, check=check)
        else:
            city = rnd.choice(self.city_ids)
            self.c.call(
                "GET /cities/{id}",
                "GET",
                f"{API}/cities/{city}",
                user,
                check=lambda b, h: check_city(b, figures=figures(city)),
            )
        return True

    def read_rates(self) -> bool:
        month = utc_today().strftime("%Y-%m")

        def check(body: Any, headers: dict[str, str]) -> None:
            need(isinstance(body, list), "rates are not a list")
            rates = {r["currency"]: r["rate"] for r in body}
            for cur, rate in RATES.items():
                need(Decimal(rates.get(cur, "0")) == Decimal(rate), f"rate of {cur}")

        self.c.call(
            "GET /exchange-rates",
            "GET",
            f"{API}/exchange-rates?month={month}",
            self.officer(),
            check=check,
        )
        return True

    def read_me(self) -> bool:
        user = self.ctx.members[self.rnd.choice(self.city_ids)]

        def check(body: Any, headers: dict[str, str]) -> None:
            has_keys(body, ("id", "email", "role", "city_id"), "user")
            need(body["id"] == user.id and body["city_id"] == user.city_id, "another user")
            need(not any("password" in k for k in body), "a password field in a user")

        self.c.call("GET /users/me", "GET", f"{API}/users/me", user, check=check)
        return True

    # -- a grant's life ---------------------------------------------------------------------

    def propose(self) -> bool:
        rnd = self.rnd
        city = rnd.choices(self.city_ids, self.activity)[0]
        member = self.ctx.members[city]
        today = utc_today()
        body = {
            "title": f"Pilot {rnd.randint(1, 10**6)}",
            "summary": "Story evenings in the harbour, with the library and the rowing club.",
            "start_date": (today - dt.timedelta(days=rnd.randint(0, 30))).isoformat(),
            "end_date": (today + dt.timedelta(days=rnd.randint(30, 240))).isoformat(),
            "budget_lines": self.budget(),
        }
        r = self.c.call(
            "POST /grants",
            "POST",
            f"{API}/grants",
            member,
            body,
            ok=(201,),
            check=lambda b, h: check_grant(b, state=grants.DRAFT, city_id=city),
        )
        if not r.ok:
            return True
        g = self.w.add(r.body, busy=True)
        try:
            if rnd.random() < 0.08:
                return True  # stays a draft for now
            r = self.fire(g, member, "submit", refusals=("cap_exceeded",))
            if r.reason == "cap_exceeded" and rnd.random() < 0.5:
                self.fire(g, member, "withdraw")
        finally:
            self.w.release(g)
        return True

    def decide(self) -> bool:
        # No claim: two officers may decide one proposal at once (invalid_transition expected).
        g = self.w.pick(self.rnd, (grants.SUBMITTED,), claim=False)
        if g is None:
            return False
        officer = self.officer()
        x = self.rnd.random()
        if x < 0.75:
            amount = None
            if self.rnd.random() < 0.2 and g.requested > 1_00:
                amount = self.rnd.randint(g.requested // 2, g.requested - 1)
            refusals = ("cap_exceeded", "invalid_transition")
            r = self.fire(g, officer, "approve", approved=amount, refusals=refusals)
            if r.ok:  # no advance before the agreement is signed by the city and countersigned
                self.sign_agreement(g, self.ctx.members[g.city_id], self.officer())
            if r.reason == "cap_exceeded" and self.rnd.random() < 0.5:
                self.fire(
                    g,
                    officer,
                    "request_changes",
                    comment="Over the title's headroom: please reduce the budget.",
                    refusals=("invalid_transition",),
                )
        elif x < 0.88:
            self.fire(
                g,
                officer,
                "request_changes",
                comment="Please split the fees per workshop.",
                refusals=("invalid_transition",),
            )
        else:
            self.fire(
                g,
                officer,
                "reject",
                comment="Outside the action plan.",
                refusals=("invalid_transition",),
            )
        return True

    def rework(self) -> bool:
        g = self.w.pick(self.rnd, grants.EDITABLE)
        if g is None:
            return False
        member = self.ctx.members[g.city_id]
        try:
            total = int(g.requested * self.rnd.uniform(0.5, 0.9))
            if self.rnd.random() < 0.15 or total < 20_00:
                self.fire(g, member, "withdraw")
                return True
            lines = self.budget(total)
            r = self.c.call(
                "PATCH /grants/{id}",
                "PATCH",
                f"{API}/grants/{g.id}",
                member,
                {"budget_lines": lines, "summary": "A smaller first season."},
                check=lambda b, h: check_grant(b, grant_id=g.id, state=g.state, requested=total),
            )
            if not r.ok:
                return True
            self.w.update(g, r.body)
            self.fire(g, member, "submit", refusals=("cap_exceeded",))
        finally:
            self.w.release(g)
        return True

    def advance(self) -> bool:
        g = self.w.pick(self.rnd, (grants.APPROVED,))
        if g is None:
            return False
        try:
            pending = [p for p in g.pending if p["kind"] == payouts.ADVANCE]
            if pending:
                payout = pending[0]
            else:
                a = self.officer()
                payout = self.authorise(g, a, payouts.ADVANCE, (g.approved or 0) // 2)
                if payout is None:
                    return True
                if self.rnd.random() < 0.03:
                    self.cancel(g, payout, self.officer())
                    return True
                if self.rnd.random() < 0.05:
                    self.c.call(
                        "payout confirm_paid (same officer)",
                        "POST",
                        f"{API}/disbursements/{payout['id']}/transitions",
                        a,
                        {
                            "event": "confirm_paid",
                            "paid_on": utc_today().isoformat(),
                            "payment_reference": "LOAD-SELF",
                        },
                        ok=(),
                        refusals=("four_eyes",),
                    )
            b = self.officer(not_id=payout["by"])
            if self.confirm(g, payout, b).ok:
                self.get_grant(g, b, state=grants.DISBURSED)
        finally:
            self.w.release(g)
        return True

    def interim(self) -> bool:
        return self.report(reports.INTERIM)

    def final(self) -> bool:
        return self.report(reports.FINAL)

    def report(self, kind: str) -> bool:
        source = grants.DISBURSED if kind == reports.INTERIM else grants.INTERIM_REPORTED
        g = self.w.pick(self.rnd, (source,))
        if g is None:
            return False
        member = self.ctx.members[g.city_id]
        officer = self.officer()
        small = self.rnd.random() < 0.15
        share = (
            ((0.05, 0.2) if small else (0.3, 0.6))
            if kind == reports.INTERIM
            else ((0.02, 0.15) if small else (0.2, 0.7))
        )
        try:
            rep = g.reports.get(kind)
            if rep is None:
                body = {
                    "kind": kind,
                    "narrative": {
                        "activities": "Six story evenings, two workshops.",
                        "participants": "About 240 residents.",
                        "trust": "Neighbours met across the harbour.",
                    },
                    "expenses": self.expenses(g, share),
                }
                r = self.c.call(
                    "POST /grants/{id}/reports",
                    "POST",
                    f"{API}/grants/{g.id}/reports",
                    member,
                    body,
                    ok=(201,),
                    check=lambda b, h: check_report(b, kind=kind, state=reports.DRAFT),
                )
                if not r.ok:
                    return True
                rep = g.reports[kind] = {"id": r.body["id"], "state": reports.DRAFT, "lines": []}
            path = f"{API}/reports/{rep['id']}"
            if rep["state"] in reports.EDITABLE and not self._submit_report(member, rep):
                return True
            if rep["state"] == reports.SUBMITTED and self.rnd.random() < 0.1:
                r = self.c.call(
                    "report return",
                    "POST",
                    f"{path}/transitions",
                    officer,
                    {"event": "return", "comment": "Add the invoice of the venue, please."},
                    key=self.key(),
                    check=lambda b, h: check_report(b, state=reports.RETURNED),
                )
                if not r.ok:
                    return True
                rep["state"] = reports.RETURNED
                r = self.c.call(
                    "PATCH /reports/{id}",
                    "PATCH",
                    path,
                    member,
                    {"narrative": {"activities": "Six story evenings, two workshops, one fair."}},
                    check=lambda b, h: check_report(b, state=reports.RETURNED),
                )
                if not r.ok or not self._submit_report(member, rep):
                    return True
            if rep["state"] != reports.SUBMITTED:
                return True
            body = {"event": "accept"}
            adjusted: dict[int, str] = {}
            lines = [e for e in rep["lines"] if cents(e["eligible_eur"]) > 1]
            if lines and self.rnd.random() < 0.25:
                line = self.rnd.choice(lines)
                eligible = cents(line["eligible_eur"])
                adjusted[line["id"]] = money(self.rnd.randint(0, eligible - 1))
                body["adjustments"] = [
                    {
                        "expense_id": line["id"],
                        "eligible_eur": adjusted[line["id"]],
                        "reason": "Part of the invoice is outside the pilot.",
                    }
                ]

            def check(b: Any, h: dict[str, str]) -> None:
                check_report(b, state=reports.ACCEPTED)
                for e in b["expenses"]:
                    if e["id"] in adjusted:
                        need(e["eligible_eur"] == adjusted[e["id"]], "adjustment not applied")

            r = self.c.call(
                "report accept",
                "POST",
                f"{path}/transitions",
                officer,
                body,
                key=self.key(),
                check=check,
            )
            if r.ok:
                rep["state"] = reports.ACCEPTED
                self.get_grant(g, officer, state=REPORTED[kind])
            elif r.outcome == "refused":
                self.get_grant(g)
        finally:
            self.w.release(g)
        return True

    def _submit_report(self, member: User, rep: dict[str, Any]) -> bool:
        r = self.c.call(
            "report submit",
            "POST",
            f"{API}/reports/{rep['id']}/transitions",
            member,
            {"event": "submit"},
            key=self.key(),
            check=lambda b, h: check_report(b, state=reports.SUBMITTED),
        )
        if r.ok:
            rep["state"] = reports.SUBMITTED
            rep["lines"] = r.body["expenses"]
        return r.ok

    def settle(self) -> bool:
        g = self.w.pick(self.rnd, (grants.FINAL_REPORTED,))
        if g is None:
            return False
        a = self.officer()
        try:
            for payout in list(g.pending):
                if not self.confirm(g, payout, self.officer(not_id=payout["by"])).ok:
                    return True
            r = self.get_grant(g, a, state=grants.FINAL_REPORTED)
            if not r.ok:
                return True
            for kind, due in ((payouts.BALANCE, "balance_due"), (payouts.RECOVERY, "recovery_due")):
                amount = cents(r.body[due])
                if amount > 0:
                    payout = self.authorise(g, a, kind, amount)
                    if payout is None:
                        return True
                    if not self.confirm(g, payout, self.officer(not_id=a.id)).ok:
                        return True
            r = self.fire(g, a, "close")
            if r.ok and (r.body["balance_due"], r.body["recovery_due"]) != ("0.00", "0.00"):
                self.ctx.stats.error("grant close", f"grant {g.id} closed owing: {r.body}")
        finally:
            self.w.release(g)
        return True

    def terminate(self) -> bool:
        g = self.w.pick(self.rnd, TERMINABLE)
        if g is None:
            return False
        a = self.officer()
        try:
            for payout in list(g.pending):
                if not self.cancel(g, payout, self.officer()).ok:
                    return True
            r = self.fire(g, a, "terminate", comment="The venue burnt down; the pilot ends.")
            if r.ok and cents(r.body["recovery_due"]) > 0:
                payout = self.authorise(g, a, payouts.RECOVERY, cents(r.body["recovery_due"]))
                if payout is not None:
                    self.confirm(g, payout, self.officer(not_id=a.id))
        finally:
            self.w.release(g)
        return True

    def comment(self) -> bool:
        g = self.w.any(self.rnd)
        if g is None:
            return False
        x = self.rnd.random()
        if x < 0.5:
            user, visibility = self.ctx.members[g.city_id], "shared"
        elif x < 0.9:
            user, visibility = self.officer(), self.rnd.choice(("shared", "internal"))
        else:
            user, visibility = self.ctx.admin, "shared"
        text = f"Note {self.rnd.randint(1, 10**6)}: =SUM(A1) is text, not a formula."

        def check(b: Any, h: dict[str, str]) -> None:
            has_keys(b, ("id", "grant_id", "author", "body", "visibility", "created_at"), "comment")
            need(b["grant_id"] == g.id and b["body"] == text, "another comment")
            need(b["visibility"] == visibility and b["author"]["id"] == user.id, "comment")

        self.c.call(
            "POST /grants/{id}/comments",
            "POST",
            f"{API}/grants/{g.id}/comments",
            user,
            {"body": text, "visibility": visibility},
            ok=(201,),
            check=check,
        )
        return True

    # -- the loops --------------------------------------------------------------------------

    def step(self, action: str) -> None:
        flow = getattr(self, action)
        if not flow():
            self.read_grant()

    def loop(self) -> None:
        names = [n for n, _ in self.MIX]
        weights = [w for _, w in self.MIX]
        try:
            while time.monotonic() < self.ctx.end:
                action = self.rnd.choices(names, weights)[0]
                try:
                    self.step(action)
                except Exception:
                    self.ctx.stats.error("load generator", traceback.format_exc(limit=4))
        finally:
            self.c.close()

    def auditor_loop(self) -> None:
        """The auditor: reads, and now and then a statement, polled until it is finished."""
        next_export = time.monotonic() + 5
        reads = (
            self.read_list,
            self.read_list,
            self.read_grant,
            self.read_history,
            self.read_related,
            self.read_cities,
            self.read_exports,
        )
        try:
            while time.monotonic() < self.ctx.end:
                try:
                    if time.monotonic() >= next_export or self.ctx.export_now.is_set():
                        self.ctx.export_now.clear()
                        next_export = time.monotonic() + self.ctx.export_every
                        self.export()
                    else:
                        self.rnd.choice(reads)()
                except Exception:
                    self.ctx.stats.error("load generator", traceback.format_exc(limit=4))
        finally:
            self.c.close()

    def read_exports(self) -> bool:
        def check(body: Any, headers: dict[str, str]) -> None:
            check_page(body, headers, 1, 20)
            for e in body:
                has_keys(e, EXPORT_KEYS, "export")

        self.c.call(
            "GET /exports", "GET", f"{API}/exports?page=1&page_size=20", self.staff(), check=check
        )
        return True

    def export(self) -> None:
        auditor = self.ctx.auditor
        x = self.rnd.random()
        g = self.w.any(self.rnd)
        if x < 0.7 or g is None:
            body: dict[str, Any] = {"kind": "programme_statement", "title_year": self.ctx.year}
        elif x < 0.85:
            body = {"kind": "city_statement", "city_id": g.city_id, "title_year": self.ctx.year}
        else:
            body = {"kind": "grant_statement", "grant_id": g.id}

        def requested(b: Any, h: dict[str, str]) -> None:
            check_export(b)
            need(b["kind"] == body["kind"], "export of another kind")
            need(urlsplit(h.get("location", "")).path == f"{API}/exports/{b['id']}", "Location")

        r = self.c.call(
            f"POST /exports ({body['kind']})",
            "POST",
            f"{API}/exports",
            auditor,
            body,
            ok=(202,),
            check=requested,
        )
        if not r.ok:
            return
        export_id = r.body["id"]
        self.ctx.export_ids.append(export_id)
        self.ctx.statement_requested.set()
        path = urlsplit(r.headers["location"]).path
        deadline = time.monotonic() + EXPORT_WAIT
        while True:
            r = self.c.call(
                "GET /exports/{id}", "GET", path, auditor, check=lambda b, h: check_export(b)
            )
            if not r.ok:
                return
            if r.body["status"] == "finished":
                break
            if time.monotonic() > deadline:
                self.ctx.stats.error("GET /exports/{id}", f"export {export_id} not finished")
                return
            if time.monotonic() > self.ctx.end + 5:
                return  # the load is over: the database check waits for it
            time.sleep(0.5)
        export = r.body

        def download(data: bytes, h: dict[str, str]) -> None:
            need(h.get("content-type", "").startswith(XLSX), "not an XLSX content type")
            need(h.get("content-disposition", "").startswith("attachment"), "not an attachment")
            need(len(data) == export["size"], "size differs from the export's")
            need(hashlib.sha256(data).hexdigest() == export["sha256"], "sha256 differs")
            need(data[:2] == b"PK", "not a zip container")

        self.c.call(
            "GET /exports/{id}/file", "GET", f"{path}/file", auditor, raw=True, check=download
        )
