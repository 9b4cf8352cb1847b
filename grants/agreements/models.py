"""Grant agreements: one row per issued version, with its PDF and its two signatures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.db import Base, in_list, utcnow
from workflows.agreement import AWAITING_CITY, SIGNED, STATES


class GrantAgreement(Base):
    """One version of a grant's agreement. The newest version of a grant is the one in force.

    The PDF is stored as issued (``content``), so the same bytes are served every time and
    ``sha256`` (of those bytes) is what the city signs. ``terms_sha256`` is the hash printed in
    the PDF: of the canonical text of the terms, which the PDF carries as an attachment.
    """

    __tablename__ = "grant_agreements"
    __table_args__ = (
        UniqueConstraint("grant_id", "version", name="uq_grant_agreements_grant_version"),
        CheckConstraint(in_list("state", STATES), name="state_known"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            f"state = '{AWAITING_CITY}' OR (city_signed_by_id IS NOT NULL "
            "AND city_signed_at IS NOT NULL AND city_signatory_name IS NOT NULL)",
            name="city_signed",
        ),
        CheckConstraint(
            f"state <> '{SIGNED}' OR (countersigned_by_id IS NOT NULL "
            "AND countersigned_at IS NOT NULL)",
            name="countersigned",
        ),
        CheckConstraint(
            "countersigned_by_id IS NULL OR countersigned_by_id <> city_signed_by_id",
            name="two_people",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(32), default=AWAITING_CITY)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: SHA-256 of the PDF's bytes (the file served; what the city signs).
    sha256: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the canonical terms (printed in the PDF, which carries them as terms.json).
    terms_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    city_signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    city_signatory_name: Mapped[str | None] = mapped_column(String(200))
    city_signed_at: Mapped[dt.datetime | None]
    #: The address the signature came from (the request's remote address).
    city_signed_from: Mapped[str | None] = mapped_column(String(64))
    #: The PDF's SHA-256 as the city signed it (equal to ``sha256``: the file never changes).
    city_signed_sha256: Mapped[str | None] = mapped_column(String(64))
    countersigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    countersigned_at: Mapped[dt.datetime | None]

    city_signed_by = relationship("User", foreign_keys=[city_signed_by_id], lazy="joined")
    countersigned_by = relationship("User", foreign_keys=[countersigned_by_id], lazy="joined")

    @property
    def is_signed(self) -> bool:
        return self.state == SIGNED

    @property
    def file_name(self) -> str:
        return f"grant-agreement-{self.grant_id}-v{self.version}.pdf"
