"""The export row: the truth about a statement, from request to file."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from grants.db import Base, in_list, utcnow

KINDS = ("grant_statement", "city_statement", "programme_statement")
#: The English names of the kinds (the page's headings, the workbook's title).
KIND_LABELS = {
    "grant_statement": "Grant statement",
    "city_statement": "City statement",
    "programme_statement": "Programme statement",
}
QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
STATUSES = (QUEUED, RUNNING, FINISHED, FAILED)
STATUS_LABELS = {QUEUED: "Queued", RUNNING: "Running", FINISHED: "Finished", FAILED: "Failed"}


class Export(Base):
    __tablename__ = "exports"
    __table_args__ = (
        CheckConstraint(in_list("kind", KINDS), name="kind_known"),
        CheckConstraint(in_list("status", STATUSES), name="status_known"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_percent"),
        # A finished export always has its whole file and checksum; nothing else has a file.
        CheckConstraint(
            "(status = 'finished') = (content IS NOT NULL AND sha256 IS NOT NULL)",
            name="file_only_when_finished",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    progress: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    file_name: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    row_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))

    requested_by = relationship("User", lazy="joined")
