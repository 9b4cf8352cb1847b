"""Benchmark: the integrity warnings of one expense line among 100,000 lines.

Fills a scratch database (SQLite in a temp folder; or, given a PostgreSQL URL, a fresh database
created beside it and dropped after) with 1,000 grants of 100 expense lines each, a receipt on
every tenth line and a few real duplicates, then times the warnings of sampled lines as the
pages and the API compute them (``grants.reports.integrity``: the receipts of the line, then
the three indexed lookups), and of a whole 100-line report (one call for all its lines). Prints
each figure against its floor and the plan of each lookup (the index it uses).

    .venv/bin/python bench/integrity.py
    .venv/bin/python bench/integrity.py postgresql+psycopg://root@127.0.0.1:5432/test

Floors: ≤ 5 ms per line (median), ≤ 50 ms for a 100-line report; every lookup by an index.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GRANTS = 1_000
PER_REPORT = 100
SAMPLES = 300
FLOOR_LINE_MS = 5.0
FLOOR_REPORT_MS = 50.0
YEAR = 2025
INDEXES = (
    "ix_attachments_sha256",
    "ix_expense_lines_invoice_key",
    "ix_expense_lines_supplier_date_amount",
)


def make_app(url: str) -> Any:
    from grants.app import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "DATABASE_URL": url})


def populate(url: str) -> None:
    """1,000 grants × 100 lines through bulk inserts (the keys by the model's defaults)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from grants.cities.models import City, Title
    from grants.extensions import db
    from grants.grant.models import Grant
    from grants.reports.models import Attachment, ExpenseLine, Report
    from grants.users.models import User

    rng = random.Random(13)
    now = dt.datetime.now(dt.UTC)
    app = make_app(url)
    with app.app_context():
        upgrade(directory=str(ROOT / "grants" / "migrations"))
        s = db.session
        s.execute(
            insert(City),
            [
                {"id": c, "name": f"City {c}", "country": "DK", "is_capital": False}
                for c in range(1, 11)
            ],
        )
        s.execute(
            insert(User),
            [{"id": 1, "email": "c@x", "password_hash": "-", "role": "city_member", "city_id": 1}],
        )
        s.execute(
            insert(Title),
            [
                {
                    "id": c,
                    "city_id": c,
                    "year": YEAR,
                    "valid_from": dt.date(YEAR, 1, 1),
                    "valid_until": dt.date(YEAR + 1, 12, 31),
                    "cap_cents": 500_000_000,
                    "committed_cents": 0,
                }
                for c in range(1, 11)
            ],
        )
        grants, reports, lines, receipts = [], [], [], []
        suppliers: dict[int, str] = {}
        line_id = 0
        for g in range(1, GRANTS + 1):
            city = (g - 1) % 10 + 1
            grants.append(
                {
                    "id": g,
                    "city_id": city,
                    "title_id": city,
                    "title": f"Pilot {g}",
                    "summary": "",
                    "start_date": dt.date(YEAR, 3, 1),
                    "end_date": dt.date(YEAR, 10, 31),
                    "state": "disbursed",
                    "requested_cents": 400_000,
                    "approved_cents": 400_000,
                    "payout_cents": 200_000,
                    "created_by_id": 1,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            reports.append(
                {
                    "id": g,
                    "grant_id": g,
                    "kind": "interim",
                    "state": "draft",
                    "narrative": {},
                    "created_by_id": 1,
                    "created_at": now,
                    "version": 1,
                }
            )
            for i in range(PER_REPORT):
                line_id += 1
                # Every 500th line repeats the invoice of a line 250 before it, spelt otherwise:
                # the lookups find real collisions, not only empty answers.
                if line_id % 500 == 0:
                    supplier = suppliers[line_id - 250].upper()
                    number = f"inv {line_id - 250}"
                else:
                    supplier = f"Supplier {rng.randrange(5_000)}"
                    number = f"INV-{line_id}"
                suppliers[line_id] = supplier
                lines.append(
                    {
                        "id": line_id,
                        "report_id": g,
                        "position": i + 1,
                        "invoice_number": number,
                        "invoice_date": dt.date(YEAR, 3, 1) + dt.timedelta(days=rng.randrange(240)),
                        "payment_date": None,
                        "supplier": supplier,
                        "description": f"Lot {line_id}",
                        "category": "materials",
                        "currency": "EUR",
                        "amount_cents": rng.randrange(1_000, 500_000),
                        "vat_cents": 0,
                        "vat_recoverable": False,
                    }
                )
                if line_id % 10 == 0:
                    # Every 50th receipt is the file of a line 250 before it.
                    same = line_id - 250 if line_id % 500 == 0 else line_id
                    content = f"%PDF-1.4 receipt {same}".encode()
                    receipts.append(
                        {
                            "report_id": g,
                            "expense_id": line_id,
                            "file_name": "r.pdf",
                            "content_type": "application/pdf",
                            "size": len(content),
                            "sha256": hashlib.sha256(content).hexdigest(),
                            "uploaded_by_id": 1,
                            "uploaded_at": now,
                            "content": content,
                        }
                    )
        for model, rows in (
            (Grant, grants),
            (Report, reports),
            (ExpenseLine, lines),
            (Attachment, receipts),
        ):
            for start in range(0, len(rows), 5_000):
                s.execute(insert(model), rows[start : start + 5_000])
        s.commit()
        s.execute(text("ANALYZE"))  # the planner's statistics, as a live database has them
        s.commit()
        s.remove()


def plans(line_id: int) -> list[str]:
    """The plan of each lookup of one saved line, as the database explains it."""
    from sqlalchemy import text

    from grants.extensions import db
    from grants.reports.integrity import saved_line_queries

    dialect = db.engine.dialect
    out = []
    for query in saved_line_queries().values():
        bound = query.params(ids=[line_id])
        sql = str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
        rows = db.session.execute(text(explain + sql)).all()
        plan = " | ".join(str(r[-1]) if dialect.name == "sqlite" else str(r[0]) for r in rows)
        out.append(plan)
    return out


def measure(url: str) -> bool:
    from sqlalchemy import func, select

    from grants.extensions import db
    from grants.reports.integrity import warnings_of
    from grants.reports.models import ExpenseLine, Report

    app = make_app(url)
    ok = True
    with app.app_context():
        total = db.session.scalar(select(func.count(ExpenseLine.id)))
        rng = random.Random(7)
        ids = [rng.randrange(1, total + 1) for _ in range(SAMPLES - 20)]
        ids += [500 * k for k in range(1, 21)]  # and 20 that collide with an earlier line
        lines = [db.session.get(ExpenseLine, i) for i in ids]
        grants = {line.id: line.report.grant for line in lines}
        for line in lines[:20]:  # warm the caches and the connection
            warnings_of([line], grants[line.id])
        timings, found = [], 0
        for line in lines:
            start = time.perf_counter()
            warnings = warnings_of([line], grants[line.id])[line.id]
            timings.append((time.perf_counter() - start) * 1000)
            found += bool([w for w in warnings if w.kind != "outside_period"])
        report = db.session.get(Report, 500)
        report_ms = []
        for _ in range(5):
            start = time.perf_counter()
            warnings_of(report.expenses, report.grant)
            report_ms.append((time.perf_counter() - start) * 1000)
        median = statistics.median(timings)
        p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
        best_report = min(report_ms)
        print(f"database: {db.engine.dialect.name}, {total:,} expense lines")
        print(
            f"one line's warnings: median {median:.2f} ms, p95 {p95:.2f} ms "
            f"(floor ≤ {FLOOR_LINE_MS:.0f} ms) over {SAMPLES} lines, "
            f"{found} of them with a collision"
        )
        print(
            f"a {len(report.expenses)}-line report's warnings: {best_report:.1f} ms "
            f"(floor ≤ {FLOOR_REPORT_MS:.0f} ms)"
        )
        print("plans:")
        for name, plan in zip(
            ("same receipt", "same invoice", "same supplier, date, amount"),
            plans(lines[0].id),
            strict=True,
        ):
            print(f"  {name}: {plan}")
            ok &= any(index in plan for index in INDEXES)
        ok &= median <= FLOOR_LINE_MS and best_report <= FLOOR_REPORT_MS
        db.session.remove()
    return ok


@contextlib.contextmanager
def database(base: str | None) -> Iterator[str]:
    """SQLite in a temp folder, or a scratch database beside ``base`` (bench/api.py's)."""
    if not base:
        yield f"sqlite:///{tempfile.mkdtemp()}/integrity.sqlite"
        return
    from bench.api import scratch_database

    with scratch_database(base) as url:
        yield url


def main() -> int:
    with database(sys.argv[1] if len(sys.argv) > 1 else None) as url:
        start = time.perf_counter()
        populate(url)
        print(f"filled in {time.perf_counter() - start:.0f} s")
        ok = measure(url)
    print("PASS" if ok else "FAIL: a figure above its floor, or a lookup without its index")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
