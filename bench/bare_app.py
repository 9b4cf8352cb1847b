"""The bare stack that ``bench/api.py`` holds the project against: Flask + Flask-SQLAlchemy only.

One table, two routes, JSON out, nothing else (no auth, no schemas, no audit):

- ``GET /rows/<id>``: one row read by primary key;
- ``POST /rows/<id>``: one locked update (``SELECT … FOR UPDATE``, ``UPDATE``, commit).

Served by gunicorn as ``gunicorn 'bench.bare_app:create_app()'`` with ``BARE_DATABASE_URL`` set.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Row(db.Model):  # type: ignore[name-defined]
    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    updates: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def out(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "amount": f"{self.amount_cents // 100}.{self.amount_cents % 100:02d}",
            "updates": self.updates,
            "updated_at": self.updated_at.isoformat(),
        }


def create_app(url: str | None = None) -> Flask:
    """The bare app on ``url`` (default: the environment's ``BARE_DATABASE_URL``)."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url or os.environ["BARE_DATABASE_URL"]
    db.init_app(app)

    @app.get("/rows/<int:row_id>")
    def read(row_id: int) -> Any:
        row = db.session.get(Row, row_id)
        if row is None:
            abort(404)
        return jsonify(row.out())

    @app.post("/rows/<int:row_id>")
    def write(row_id: int) -> Any:
        body = request.get_json(silent=True) or {}
        row = db.session.scalar(select(Row).where(Row.id == row_id).with_for_update())
        if row is None:
            abort(404)
        row.amount_cents = int(body.get("amount_cents", 1))
        row.updates += 1
        row.updated_at = dt.datetime.now(dt.UTC)
        out = row.out()  # before the commit, which expires the row (no reload after it)
        db.session.commit()
        return jsonify(out), 200

    return app


def prepare(url: str) -> None:
    """Create the table and its one row (run once, before gunicorn starts)."""
    app = create_app(url)
    with app.app_context():
        db.create_all()
        db.session.add(Row(id=1, name="bench", amount_cents=0, updated_at=dt.datetime.now(dt.UTC)))
        db.session.commit()
        db.engine.dispose()
