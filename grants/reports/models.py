"""Interim and final reports, their expense lines and receipt files."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship, validates

from grants.db import Base, in_list, utcnow
from grants.grant.models import CATEGORIES
from workflows.report import KINDS, STATES

_NOT_ALNUM = re.compile(r"[\W_]+")


def normalise(text: str | None, limit: int = 200) -> str:
    """The key two spellings of one supplier or invoice number share.

    Case, spaces and punctuation are dropped (``"INV-2026/001"`` and ``"inv 2026 001"`` are
    ``"inv2026001"``); letters and digits of every script are kept (NFKC, case folded), at
    most ``limit`` of them (the key column's length).
    """
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text or "").casefold())[:limit]


def _key_of(column: str, limit: int) -> Any:
    """A default for bulk inserts that name only the text: its normalised key."""

    def default(context: Any) -> str:
        return normalise(context.get_current_parameters().get(column), limit)

    return default


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("grant_id", "kind", name="uq_reports_grant_kind"),
        CheckConstraint(in_list("kind", KINDS), name="kind_known"),
        CheckConstraint(in_list("state", STATES), name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    narrative: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    grant = relationship("Grant", lazy="joined")
    expenses: Mapped[list[ExpenseLine]] = relationship(
        back_populates="report",
        order_by="ExpenseLine.position",
        cascade="all, delete-orphan",
        lazy="selectin",
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report", order_by="Attachment.id", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class ExpenseLine(Base):
    """One invoice. EUR figures are set when the report is submitted, with the rate frozen."""

    __tablename__ = "expense_lines"
    __table_args__ = (
        CheckConstraint(in_list("category", CATEGORIES), name="category_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("vat_cents >= 0 AND vat_cents <= amount_cents", name="vat_within_amount"),
        CheckConstraint("rate_micros IS NULL OR rate_micros > 0", name="rate_positive"),
        CheckConstraint(
            "adjusted_eligible_cents IS NULL OR (adjusted_eligible_cents >= 0 "
            "AND adjusted_eligible_cents <= eligible_eur_cents)",
            name="adjustment_within_eligible",
        ),
        # The integrity warnings' lookups (grants/reports/integrity.py).
        Index("ix_expense_lines_invoice_key", "supplier_key", "invoice_key"),
        Index(
            "ix_expense_lines_supplier_date_amount", "supplier_key", "invoice_date", "amount_cents"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    position: Mapped[int]
    invoice_number: Mapped[str] = mapped_column(String(100))
    invoice_date: Mapped[dt.date]
    payment_date: Mapped[dt.date | None]
    supplier: Mapped[str] = mapped_column(String(200))
    #: normalise(supplier) and normalise(invoice_number), set with them, indexed.
    supplier_key: Mapped[str] = mapped_column(String(200), default=_key_of("supplier", 200))
    invoice_key: Mapped[str] = mapped_column(String(100), default=_key_of("invoice_number", 100))
    description: Mapped[str] = mapped_column(String(1000))
    category: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    vat_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_recoverable: Mapped[bool] = mapped_column(default=False)
    rate_micros: Mapped[int | None] = mapped_column(BigInteger)
    amount_eur_cents: Mapped[int | None] = mapped_column(BigInteger)
    vat_eur_cents: Mapped[int | None] = mapped_column(BigInteger)
    eligible_eur_cents: Mapped[int | None] = mapped_column(BigInteger)
    adjusted_eligible_cents: Mapped[int | None] = mapped_column(BigInteger)
    ineligible_reason: Mapped[str | None] = mapped_column(Text)

    report: Mapped[Report] = relationship(back_populates="expenses")

    @validates("supplier", "invoice_number")
    def _set_key(self, name: str, value: str) -> str:
        if name == "supplier":
            self.supplier_key = normalise(value, 200)
        else:
            self.invoice_key = normalise(value, 100)
        return value

    @property
    def accepted_eligible_cents(self) -> int:
        if self.adjusted_eligible_cents is not None:
            return self.adjusted_eligible_cents
        return self.eligible_eur_cents or 0


class Attachment(Base):
    """A receipt, kept in the database under its id (never under the uploaded name)."""

    __tablename__ = "attachments"
    __table_args__ = (CheckConstraint("size > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    expense_id: Mapped[int | None] = mapped_column(
        ForeignKey("expense_lines.id", ondelete="SET NULL"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))

    report: Mapped[Report] = relationship(back_populates="attachments")
