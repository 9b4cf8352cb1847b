"""The money oracle: the figures the service must show, re-computed without the service's code.

This module stays independent of ``grants`` and ``workflows`` on purpose: the conversions
(``amount / rate``, ROUND_HALF_UP, domain.md) and the invariants (what a title has committed, what
a grant has paid) are written out again here from the programme's rules, with their own state
names, so that a bug in the service's constants or formulas cannot hide itself by being imported
into its own check. Everything else in ``bench.load`` takes its states, events, roles and kinds
from ``workflows``.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

#: Re-declared on purpose (see the module's docstring): the states whose approved amount counts
#: against the cap in full, and the ended ones where only paid − recovered stays committed.
COMMITTED = ("approved", "disbursed", "interim_reported", "final_reported")
ENDED = ("closed", "terminated")


def cents(text: str) -> int:
    whole, fraction = text.split(".")
    return int(whole) * 100 + int(fraction)


def money(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def to_eur(amount: int, rate: str) -> int:
    """``amount / rate`` in cents, ROUND_HALF_UP (domain.md)."""
    return int((Decimal(amount) / Decimal(rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


INVARIANTS_SQL = """
WITH money AS (
    SELECT g.id, g.title_id, g.state, g.approved_cents, g.payout_cents,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state = 'paid' AND p.kind IN ('advance', 'balance')), 0) AS paid,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state = 'paid' AND p.kind = 'recovery'), 0) AS recovered,
        COALESCE(SUM(p.amount_cents) FILTER (
            WHERE p.state IN ('authorised', 'paid') AND p.kind IN ('advance', 'balance')), 0)
            AS outgoing
    FROM grants g LEFT JOIN payouts p ON p.grant_id = g.id
    GROUP BY g.id
)
"""

TITLES_SQL = (
    INVARIANTS_SQL
    + """
SELECT t.id, t.cap_cents, t.committed_cents,
    COALESCE(SUM(CASE
        WHEN m.state IN ('approved', 'disbursed', 'interim_reported', 'final_reported')
            THEN m.approved_cents
        WHEN m.state IN ('closed', 'terminated') THEN m.paid - m.recovered
        ELSE 0 END), 0) AS expected
FROM titles t LEFT JOIN money m ON m.title_id = t.id
GROUP BY t.id ORDER BY t.id
"""
)

GRANTS_SQL = (
    INVARIANTS_SQL
    + """
SELECT id, state, approved_cents, payout_cents, paid, recovered, outgoing FROM money ORDER BY id
"""
)


def check_invariants(url: str) -> tuple[list[tuple[str, bool, str]], dict[str, Any]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            titles = conn.execute(text(TITLES_SQL)).all()
            grants = conn.execute(text(GRANTS_SQL)).all()
            exports = dict(
                conn.execute(text("SELECT status, count(*) FROM exports GROUP BY status")).all()
            )
            payouts = dict(
                conn.execute(
                    text("SELECT kind || ' ' || state, count(*) FROM payouts GROUP BY 1 ORDER BY 1")
                ).all()
            )
    finally:
        engine.dispose()

    def first(rows: list[Any]) -> str:
        return "; ".join(str(tuple(r)) for r in rows[:3])

    over_cap = [t for t in titles if t.committed_cents > t.cap_cents]
    drift = [t for t in titles if t.committed_cents != t.expected]
    counter = [g for g in grants if g.payout_cents != g.outgoing]
    over_approved = [g for g in grants if g.payout_cents > (g.approved_cents or 0)]
    overpaid = [g for g in grants if g.paid > (g.approved_cents or 0)]
    total_exports = sum(exports.values())
    committed = sum(t.committed_cents for t in titles)
    cap = sum(t.cap_cents for t in titles)
    checks = [
        (
            f"committed ≤ cap on every title ({len(titles)} titles, "
            f"{money(committed)} of {money(cap)} EUR committed)",
            not over_cap,
            first(over_cap),
        ),
        (
            "committed = Σ approved of live grants + Σ (paid − recovered) of closed/terminated",
            not drift,
            first(drift),
        ),
        (
            f"payout_cents = Σ authorised-or-paid advances and balances ({len(grants)} grants)",
            not counter,
            first(counter),
        ),
        ("payout_cents ≤ approved on every grant", not over_approved, first(over_approved)),
        ("paid ≤ approved on every grant", not overpaid, first(overpaid)),
        (
            f"every export finished ({exports.get('finished', 0)} of {total_exports})",
            total_exports > 0 and exports.get("finished", 0) == total_exports,
            str(exports),
        ),
    ]
    states = Counter(g.state for g in grants)
    facts = {
        "states": states,
        "paid": int(sum(g.paid for g in grants)),  # SUM() of bigint is numeric: a Decimal
        "recovered": int(sum(g.recovered for g in grants)),
        "approved_live": sum(g.approved_cents or 0 for g in grants if g.state in COMMITTED),
        "payouts": payouts,
        "committed": committed,
        "cap": cap,
    }
    return checks, facts
