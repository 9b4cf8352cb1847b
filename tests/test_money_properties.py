"""The money rules hold whatever happens, in any order: a Hypothesis state machine.

One city with one title (cap 5,000.00) sees random proposals, decisions, advances, confirmations,
cancellations, reports in EUR and DKK with random VAT, adjustments, balances, recoveries, closes
and terminations, driven through the same service functions the API calls, one "request" at a
time: load in scope (locked), act, commit; a refusal (``AppError``, ``WorkflowError``) rolls back,
as the request boundary does. Anything else (an IntegrityError from a CHECK constraint, say) would
be a 500 in production and fails the test.

After every step the invariants are read back from the database and recomputed independently from
the Payout and ExpenseLine rows:

- the title's committed total is within the cap and equals the sum domain.md defines (approved
  amounts of live grants, paid − recovered of closed and terminated ones);
- for every grant: paid ≤ approved, recovered ≤ paid, and the payout counter equals the
  authorised-or-paid advances and balances;
- ``grant_figures`` equals the sums of the rows; every converted line is amount / rate, half up.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select

from grants import scope
from grants.agreements import services as agreements
from grants.cities.models import City, Title
from grants.db import today
from grants.errors import AppError
from grants.extensions import db
from grants.figures import grant_figures
from grants.grant import services as proposals
from grants.grant.models import Grant, GrantFigures
from grants.payouts import services as payouts
from grants.payouts.models import Payout
from grants.rates.models import ExchangeRate
from grants.rates.services import set_rate
from grants.reports import services as reports
from grants.reports.models import ExpenseLine, Report
from grants.users.models import User
from tests.factories import Factory
from workflows import WorkflowError
from workflows.grant import COMMITTED, ENDED, GRANT
from workflows.payout import KINDS

CAP = 500_000
#: States from which a grant still moves on (a new proposal waits until fewer than two are).
LIVE = ("draft", "submitted", "changes_requested", *COMMITTED)
COMMENT = "Decided at the programme meeting."
MONTH_RATE = {"DKK": 7_460_400}

#: Kept modest so that the whole test runs in well under a minute on SQLite and PostgreSQL.
SETTINGS = settings(
    max_examples=12,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

amounts = st.integers(min_value=1, max_value=250_000)
#: True five times out of six. (Hypothesis draws small and boundary integers far more often
#: than others, so ``integers(0, 5) > 0`` would not mean "mostly".)
MOSTLY = st.sampled_from([True] * 5 + [False])
expense_lines = st.lists(
    st.tuples(
        st.sampled_from(["EUR", "DKK", "SEK"]),
        st.integers(min_value=1, max_value=1_500_000),  # cents in the line's currency
        st.integers(min_value=0, max_value=100),  # VAT as a percentage of the gross amount
        st.booleans(),  # VAT recoverable
    ),
    min_size=0,
    max_size=4,
)


def fire(grant: Grant, event: str, actor: User, **kw: Any) -> Grant:
    """As the API does it: the locked grant's figures go with the event."""
    return proposals.transition_grant(grant, event, actor=actor, figures=grant_figures(grant), **kw)


def authorise_payout(grant: Grant, body: dict[str, Any], actor: User) -> Payout:
    return payouts.authorise_payout(grant, body, actor=actor, figures=grant_figures(grant))


def half_up(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).quantize(1, rounding=ROUND_HALF_UP))


class MoneyMachine(RuleBasedStateMachine):
    def __init__(self, app: Flask) -> None:
        super().__init__()
        # The database is cleaned after each test, not between Hypothesis examples: each example
        # gets its own city and title and asserts only on them; rates are reset here.
        db.session.rollback()
        db.session.execute(delete(ExchangeRate))
        db.session.commit()
        make = Factory(app)
        city = make.city(valid_from=today() - dt.timedelta(days=30), cap=CAP)
        self.title_id = city.titles[0].id
        self.city_id = city.id
        self.member_id = make.user("city_member", city=city).id
        self.officer_ids = (make.user("finance_officer").id, make.user("finance_officer").id)
        for currency, micros in MONTH_RATE.items():
            set_rate(self.month, currency, micros, actor=None)
        db.session.commit()
        self.outcomes: dict[str, int] = defaultdict(int)
        self.states: dict[int, str] = {}
        self.payout_states: dict[int, str] = {}
        self.report_states: dict[int, str] = {}
        self.report_kinds: dict[int, set[str]] = {}
        #: Grants for which a payout is due now, with its kind (as the invariants computed it).
        self.payable: dict[int, str] = {}
        #: Grants with a payout authorised and not yet confirmed or cancelled.
        self.pending: set[int] = set()

    @property
    def month(self) -> str:
        return today().strftime("%Y-%m")

    # -----------------------------------------------------------------------------------------
    # A request: act, then commit; a refusal rolls everything back.

    def user(self, user_id: int) -> User:
        return db.session.get(User, user_id)

    @property
    def member(self) -> User:
        return self.user(self.member_id)

    def officer(self, which: int) -> User:
        return self.user(self.officer_ids[which])

    def request(self, name: str, act: Callable[[], Any]) -> Any:
        try:
            result = act()
            db.session.flush()
            value = getattr(result, "id", result)
            db.session.commit()
        except (AppError, WorkflowError) as refusal:
            db.session.rollback()
            self.outcome(f"{name}: {type(refusal).__name__}")
            return None
        except BaseException:
            db.session.rollback()
            raise
        self.outcome(f"{name}: ok")
        return value

    def outcome(self, what: str) -> None:
        """Count what happened (a Hypothesis event too, when run under ``@given``)."""
        self.outcomes[what] += 1
        if currently_in_test_context():
            event(what)

    def grant(self, gid: int, actor: User) -> Grant:
        return scope.get_grant(actor, gid, for_update=True)

    def pick(self, data: st.DataObject, good: list[int], every: list[int]) -> int:
        """Mostly an object on which the action makes sense; sometimes any (a refusal)."""
        if good and data.draw(MOSTLY, label="sensible"):
            return data.draw(st.sampled_from(sorted(good)), label="id")
        return data.draw(st.sampled_from(sorted(every)), label="id")

    def grants_in(self, *states: str) -> list[int]:
        return [g for g, s in self.states.items() if s in states]

    # -----------------------------------------------------------------------------------------
    # The rules. Each is gated on there being something sensible to do, and picks a sensible
    # target most of the time (see ``pick``), so that random runs get to the end of a grant's
    # life; rare or disruptive actions share one rule so that they do not crowd the others out.

    @precondition(lambda self: len(self.grants_in(*LIVE)) < 2)
    @rule(lines=st.lists(amounts, min_size=1, max_size=3))
    def propose(self, lines: list[int]) -> None:
        start = today() - dt.timedelta(days=5)
        data = {
            "title": "A pilot",
            "summary": "Random",
            "start_date": start,
            "end_date": start + dt.timedelta(days=120),
            "budget_lines": [
                {"category": "fees", "description": f"Line {i}", "amount": a}
                for i, a in enumerate(lines)
            ],
        }
        self.request("propose", lambda: proposals.create_grant(data, actor=self.member))

    @precondition(lambda self: self.grants_in("draft", "changes_requested"))
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        gid = self.pick(data, self.grants_in("draft", "changes_requested"), list(self.states))
        self.fire_grant(gid, "submit", self.member)

    @precondition(lambda self: self.grants_in("submitted"))
    @rule(
        data=st.data(),
        event=st.sampled_from(["approve"] * 4 + ["request_changes", "reject", "withdraw"]),
        approved=st.none() | amounts,
        who=st.integers(0, 1),
    )
    def decide(self, data: st.DataObject, event: str, approved: int | None, who: int) -> None:
        gid = self.pick(data, self.grants_in("submitted"), list(self.states))
        if event == "approve":
            self.fire_grant(gid, event, self.officer(who), approved_amount=approved)
            self.sign_agreement(gid, self.officer(1 - who))
        else:
            actor = self.member if event == "withdraw" else self.officer(who)
            self.fire_grant(gid, event, actor, comment=COMMENT)

    def settled(self) -> list[int]:
        """Grants whose final report is accepted and on which nothing is owed or pending."""
        return [
            g
            for g in self.grants_in("final_reported")
            if g not in self.payable and g not in self.pending
        ]

    @precondition(lambda self: self.grants_in("final_reported"))
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        gid = self.pick(data, self.settled(), self.grants_in("final_reported"))
        self.fire_grant(gid, "close", self.officer(0))

    def terminable(self) -> list[int]:
        return self.grants_in("approved", "disbursed", "interim_reported")

    def sign_agreement(self, gid: int, officer: User) -> None:
        """The city signs the agreement issued on approval, finance countersigns: no advance
        before both (a refused approval has none: 404, counted like any refusal)."""
        member, sign = self.member, {"event": "sign", "signatory_name": "Anna Nowak"}
        self.request(
            "agreement sign",
            lambda: agreements.transition_agreement(
                agreements.get_agreement(self.grant(gid, member)), sign, actor=member, address=None
            ),
        )
        self.request(
            "agreement countersign",
            lambda: agreements.transition_agreement(
                agreements.get_agreement(self.grant(gid, officer)),
                {"event": "countersign"},
                actor=officer,
                address=None,
            ),
        )

    def fire_grant(self, gid: int, event: str, actor: User, **kw: Any) -> None:
        self.request(
            event,
            lambda: fire(self.grant(gid, actor), event, actor, **kw),
        )

    # Payouts

    @precondition(lambda self: self.payable)
    @rule(data=st.data(), amount=st.none() | st.none() | amounts, who=st.integers(0, 1))
    def authorise(self, data: st.DataObject, amount: int | None, who: int) -> None:
        gid = self.pick(data, list(self.payable), list(self.states))
        kind = self.payable.get(gid, "advance")
        if not data.draw(MOSTLY, label="sensible kind"):
            kind = data.draw(st.sampled_from(KINDS), label="kind")
        officer = self.officer(who)
        body = {"kind": kind, "amount": amount}
        self.request(
            f"authorise {kind}",
            lambda: authorise_payout(self.grant(gid, officer), body, officer),
        )

    def payout(self, pid: int, actor: User) -> Payout:
        return scope.get_payout(actor, pid, for_update=True)

    def authorised(self) -> list[int]:
        return [p for p, s in self.payout_states.items() if s == "authorised"]

    @precondition(lambda self: self.authorised())
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        pid = self.pick(data, self.authorised(), list(self.payout_states))
        # Mostly the other officer; now and then the authoriser (four eyes refuses).
        authoriser = db.session.scalar(select(Payout.authorised_by_id).where(Payout.id == pid))
        db.session.rollback()
        other = 1 - self.officer_ids.index(authoriser)
        officer = self.officer(other if data.draw(MOSTLY, label="four eyes") else 1 - other)
        body = {"event": "confirm_paid", "paid_on": today(), "payment_reference": "BANK"}
        self.request(
            "confirm",
            lambda: payouts.transition_payout(self.payout(pid, officer), body, actor=officer),
        )

    # Reports

    def expenses(self, lines: list[tuple[str, int, int, bool]]) -> list[dict[str, Any]]:
        return [
            {
                "invoice_number": f"INV-{i}",
                "invoice_date": today(),
                "payment_date": today(),
                "supplier": "Supplier",
                "description": "Costs",
                "category": "services",
                "currency": currency,
                "amount": cents,
                "vat_amount": cents * vat // 100,
                "vat_recoverable": recoverable,
            }
            for i, (currency, cents, vat, recoverable) in enumerate(lines)
        ]

    def reports_in(self, *states: str) -> list[int]:
        return [r for r, s in self.report_states.items() if s in states]

    def awaiting_report(self) -> list[tuple[int, str]]:
        """Grants whose next report has not been filed yet, with its kind."""
        due = {"disbursed": "interim", "interim_reported": "final"}
        return [
            (g, due[s])
            for g, s in self.states.items()
            if s in due and due[s] not in self.report_kinds.get(g, ())
        ]

    @precondition(lambda self: self.awaiting_report())
    @rule(data=st.data(), lines=expense_lines)
    def file_report(self, data: st.DataObject, lines: list[tuple[str, int, int, bool]]) -> None:
        gid, kind = data.draw(st.sampled_from(sorted(self.awaiting_report())), label="grant")
        if not data.draw(MOSTLY, label="sensible kind"):
            kind = data.draw(st.sampled_from(["interim", "final"]), label="kind")
        member = self.member
        body = {"kind": kind, "narrative": {}, "expenses": self.expenses(lines)}
        self.request(
            f"file {kind}",
            lambda: reports.create_report(self.grant(gid, member), body, actor=member),
        )

    def report(self, rid: int, actor: User) -> Report:
        return scope.get_report(actor, rid, for_update=True)

    def fire_report(self, rid: int, actor: User, body: dict[str, Any]) -> None:
        self.request(
            f"{body['event']} report",
            lambda: reports.transition_report(self.report(rid, actor), body, actor=actor),
        )

    @precondition(lambda self: self.reports_in("draft", "returned"))
    @rule(data=st.data())
    def submit_report(self, data: st.DataObject) -> None:
        rid = self.pick(data, self.reports_in("draft", "returned"), list(self.report_states))
        self.fire_report(rid, self.member, {"event": "submit"})

    @precondition(lambda self: self.reports_in("submitted"))
    @rule(data=st.data(), who=st.integers(0, 1))
    def review_report(self, data: st.DataObject, who: int) -> None:
        rid = self.pick(data, self.reports_in("submitted"), list(self.report_states))
        officer = self.officer(who)
        if not data.draw(MOSTLY, label="accept, not return"):
            self.fire_report(rid, officer, {"event": "return", "comment": COMMENT})
            return
        lines = db.session.scalars(
            select(ExpenseLine).where(ExpenseLine.report_id == rid).order_by(ExpenseLine.id)
        ).all()
        adjustments = []
        for line in lines:
            if not data.draw(MOSTLY, label="as claimed"):
                ceiling = line.eligible_eur_cents or 0
                # Now and then above the line's eligible EUR: refused, nothing changes.
                eligible = data.draw(st.integers(0, ceiling + 50), label="eligible")
                adjustments.append(
                    {"expense_id": line.id, "eligible_eur": eligible, "reason": "Checked"}
                )
        db.session.rollback()
        self.fire_report(rid, officer, {"event": "accept", "adjustments": adjustments})

    # The rare and the disruptive

    @precondition(
        lambda self: self.terminable() or self.authorised() or self.reports_in("draft", "returned")
    )
    @rule(
        data=st.data(),
        action=st.sampled_from(
            ["cancel", "edit", "anything", "rate", "edit", "cancel", "anything", "terminate"]
        ),
        who=st.integers(0, 1),
    )
    def disrupt(self, data: st.DataObject, action: str, who: int) -> None:
        officer = self.officer(who)
        terminable = self.terminable()
        if action == "terminate" and terminable:
            gid = self.pick(data, terminable, list(self.states))
            self.fire_grant(gid, "terminate", officer, comment=COMMENT)
        elif action == "cancel" and self.authorised():
            pid = self.pick(data, self.authorised(), list(self.payout_states))
            body = {"event": "cancel", "comment": COMMENT}
            self.request(
                "cancel",
                lambda: payouts.transition_payout(self.payout(pid, officer), body, actor=officer),
            )
        elif action == "rate":
            currency = data.draw(st.sampled_from(["DKK", "SEK"]), label="currency")
            micros = data.draw(st.integers(1, 30_000_000), label="rate")
            self.request("set rate", lambda: set_rate(self.month, currency, micros, actor=officer))
        elif action == "edit" and self.reports_in("draft", "returned"):
            rid = self.pick(data, self.reports_in("draft", "returned"), list(self.report_states))
            member = self.member
            body = {"expenses": self.expenses(data.draw(expense_lines, label="lines"))}
            self.request(
                "edit report",
                lambda: reports.update_report(self.report(rid, member), body, actor=member),
            )
        else:
            # Any event of the grant table on any grant, by either officer or the member.
            gid = data.draw(st.sampled_from(sorted(self.states)), label="grant")
            event = data.draw(st.sampled_from(GRANT.events), label="event")
            actor = data.draw(st.sampled_from([officer, self.member]), label="actor")
            self.fire_grant(gid, event, actor, comment=COMMENT)

    # -----------------------------------------------------------------------------------------
    # The invariants, read back from the database

    @invariant()
    def money_rules_hold(self) -> None:
        db.session.rollback()  # read what is committed, nothing cached
        title = db.session.get(Title, self.title_id)
        grants = db.session.scalars(
            select(Grant).where(Grant.title_id == self.title_id).order_by(Grant.id)
        ).all()
        ids = [g.id for g in grants]
        by_grant: dict[int, list[Any]] = defaultdict(list)
        payout_rows = db.session.execute(
            select(
                Payout.id, Payout.grant_id, Payout.kind, Payout.state, Payout.amount_cents
            ).where(Payout.grant_id.in_(ids))
        )
        for p in payout_rows:
            by_grant[p.grant_id].append(p)
        line_rows = db.session.execute(
            select(ExpenseLine, Report.state, Report.grant_id)
            .join(Report, ExpenseLine.report_id == Report.id)
            .where(Report.grant_id.in_(ids))
        ).all()
        lines_of: dict[int, list[tuple[ExpenseLine, str]]] = defaultdict(list)
        for line, state, gid in line_rows:
            lines_of[gid].append((line, state))

        committed = 0
        payable: dict[int, str] = {}
        for grant in grants:
            rows = by_grant[grant.id]
            paid = sum(p.amount_cents for p in rows if p.state == "paid" and p.kind != "recovery")
            recovered = sum(
                p.amount_cents for p in rows if p.state == "paid" and p.kind == "recovery"
            )
            reserved = sum(
                p.amount_cents
                for p in rows
                if p.kind in ("advance", "balance") and p.state in ("authorised", "paid")
            )
            approved = grant.approved_cents
            where = f"grant {grant.id} ({grant.state})"
            if approved is None:
                assert rows == [], where
            else:
                assert paid <= approved, where
                assert reserved <= approved, where
            assert recovered <= paid, where
            assert grant.payout_cents == reserved, where
            assert sum(p.kind == "advance" and p.state != "cancelled" for p in rows) <= 1, where
            if grant.state in ("disbursed", "interim_reported", "final_reported", "closed"):
                assert any(p.kind == "advance" and p.state == "paid" for p in rows), where

            if grant.state in COMMITTED:
                committed += approved
            elif grant.state in ENDED:
                committed += paid - recovered

            lines = lines_of[grant.id]
            reported = sum(
                line.amount_eur_cents for line, state in lines if state in ("submitted", "accepted")
            )
            eligible = sum(
                line.accepted_eligible_cents for line, state in lines if state == "accepted"
            )
            for line, state in lines:
                if state in ("submitted", "accepted"):
                    self.check_conversion(line)
            expected = GrantFigures(
                state=grant.state,
                approved=approved or 0,
                paid=paid,
                recovered=recovered,
                reported_eur=reported,
                eligible_eur=eligible,
            )
            if approved is not None:
                # (A grant never approved has no payouts and no reports, asserted above.)
                assert grant_figures(grant) == expected, where
            else:
                assert lines == [], where
            if grant.state == "closed":
                assert (expected.balance_due, expected.recovery_due) == (0, 0), where
            pending = sum(
                p.amount_cents for p in rows if p.kind == "recovery" and p.state == "authorised"
            )
            live = {p.kind for p in rows if p.state in ("authorised", "paid")}
            if grant.state == "approved" and "advance" not in live:
                payable[grant.id] = "advance"
            elif expected.balance_due > 0 and "balance" not in live:
                payable[grant.id] = "balance"
            elif expected.recovery_due > pending:
                payable[grant.id] = "recovery"

        assert 0 <= title.committed_cents <= title.cap_cents
        assert title.committed_cents == committed, (title.committed_cents, committed)

        self.payable = payable
        self.pending = {
            p.grant_id for rows in by_grant.values() for p in rows if p.state == "authorised"
        }
        self.states = {g.id: g.state for g in grants}
        self.payout_states = {p.id: p.state for rows in by_grant.values() for p in rows}
        query = select(Report.id, Report.state, Report.grant_id, Report.kind).where(
            Report.grant_id.in_(ids)
        )
        self.report_states, self.report_kinds = {}, defaultdict(set)
        for rid, state, gid, kind in db.session.execute(query):
            self.report_states[rid] = state
            self.report_kinds[gid].add(kind)
        db.session.rollback()

    @staticmethod
    def check_conversion(line: ExpenseLine) -> None:
        """amount / rate, half up, with the rate frozen on the line; eligible = EUR − rec. VAT."""
        assert line.rate_micros is not None and line.rate_micros > 0
        if line.currency == "EUR":
            assert line.rate_micros == 1_000_000
        assert line.amount_eur_cents == half_up(line.amount_cents * 1_000_000, line.rate_micros)
        assert line.vat_eur_cents == half_up(line.vat_cents * 1_000_000, line.rate_micros)
        vat = line.vat_eur_cents if line.vat_recoverable else 0
        assert line.eligible_eur_cents == line.amount_eur_cents - vat
        if line.adjusted_eligible_cents is not None:
            assert 0 <= line.adjusted_eligible_cents <= line.eligible_eur_cents

    def teardown(self) -> None:
        db.session.rollback()


def test_the_money_rules_hold_in_any_order(app: Flask):
    with app.app_context():
        try:
            run_state_machine_as_test(lambda: MoneyMachine(app), settings=SETTINGS)
        finally:
            db.session.rollback()
            db.session.remove()


def test_the_machine_reaches_the_end_of_a_grants_life(app: Flask):
    """A fixed walk through the machine's requests and invariants, to the close of a grant: the
    invariant checker agrees with a life computed by hand (a checker that never sees a closed
    grant or a recovery would prove little)."""
    with app.app_context():
        m = MoneyMachine(app)
        try:
            a, b, member = m.officer(0), m.officer(1), m.member
            start = today() - dt.timedelta(days=5)
            proposal = {
                "title": "A pilot",
                "start_date": start,
                "end_date": start + dt.timedelta(days=120),
                "budget_lines": [{"category": "fees", "description": "All", "amount": 300_000}],
            }
            gid = m.request("propose", lambda: proposals.create_grant(proposal, actor=member))
            for event, actor in (("submit", member), ("approve", a)):
                m.request(
                    event,
                    lambda e=event, u=actor: fire(m.grant(gid, u), e, u),
                )
            m.money_rules_hold()
            assert m.states[gid] == "approved"
            m.sign_agreement(gid, b)

            def authorise(kind: str) -> int:
                body = {"kind": kind, "amount": None}
                return m.request(kind, lambda: authorise_payout(m.grant(gid, a), body, a))

            def confirm(pid: int, officer: User) -> None:
                body = {"event": "confirm_paid", "paid_on": today(), "payment_reference": "X"}
                m.request(
                    "confirm",
                    lambda: payouts.transition_payout(m.payout(pid, officer), body, actor=officer),
                )

            advance = authorise("advance")
            confirm(advance, a)  # four eyes
            assert m.outcomes["confirm: FourEyes"] == 1
            confirm(advance, b)
            m.money_rules_hold()
            assert m.states[gid] == "disbursed"

            for kind, lines in (
                ("interim", [("DKK", 746_040, 25, True)]),  # 1000.00 EUR, 250.00 of it VAT
                ("final", [("EUR", 20_000, 0, False)]),
            ):
                body = {"kind": kind, "expenses": m.expenses(lines)}
                rid = m.request(
                    kind,
                    lambda body=body: reports.create_report(
                        m.grant(gid, member), body, actor=member
                    ),
                )
                for event, actor in (("submit", member), ("accept", a)):
                    m.request(
                        event,
                        lambda e=event, u=actor, r=rid: reports.transition_report(
                            m.report(r, u), {"event": e}, actor=u
                        ),
                    )
                m.money_rules_hold()
            assert m.states[gid] == "final_reported"
            figures = grant_figures(db.session.get(Grant, gid))
            # Paid 1500.00; eligible 750.00 + 200.00: 550.00 to recover, no balance.
            assert (figures.paid, figures.eligible_eur) == (150_000, 95_000)
            assert (figures.balance_due, figures.recovery_due) == (0, 55_000)
            confirm(authorise("recovery"), b)
            m.request("close", lambda: fire(m.grant(gid, a), "close", a))
            m.money_rules_hold()
            assert m.states[gid] == "closed"
            assert db.session.get(Title, m.title_id).committed_cents == 95_000  # 1500 − 550
            assert not [k for k in m.outcomes if not k.endswith(": ok") and "FourEyes" not in k]
        finally:
            db.session.rollback()
            db.session.remove()


def test_every_example_starts_from_its_own_city(app: Flask):
    with app.app_context():
        try:
            first, second = MoneyMachine(app), MoneyMachine(app)
            assert first.city_id != second.city_id
            assert db.session.get(City, second.city_id).titles[0].committed_cents == 0
            second.money_rules_hold()
        finally:
            db.session.rollback()
            db.session.remove()
