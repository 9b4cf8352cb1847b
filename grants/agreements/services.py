"""Issuing, signing and countersigning grant agreements."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import func, select

from grants import audit
from grants.agreements.models import GrantAgreement
from grants.agreements.pdf import BudgetRow, Terms, build_agreement_pdf
from grants.agreements.policies import agreement_in_force, may_fire_agreement_event
from grants.audit import Action
from grants.db import today, utcnow
from grants.errors import NotFound, Unprocessable
from grants.extensions import db
from grants.lifecycle import fire_and_record, precheck
from grants.money import share_of
from grants.users.models import User
from workflows.agreement import AGREEMENT

if TYPE_CHECKING:
    from grants.grant.models import Grant

#: The programme's name on the agreement when the settings name none.
PROGRAMME = "BSR Cultural Pearls"
#: The audit action of each agreement event.
AGREEMENT_ACTIONS = {
    "sign": Action.AGREEMENT_SIGNED,
    "countersign": Action.AGREEMENT_COUNTERSIGNED,
}


def agreement_terms(grant: Grant, version: int, *, interim_due_on: dt.date) -> Terms:
    """The terms of ``grant`` as they stand (approved amount, budget, dates), for ``version``.

    ``interim_due_on`` is the grant's own interim due date (``grant.services.interim_due_on``);
    the final report is due ``FINAL_REPORT_DUE_DAYS`` after the pilot's end.
    """
    config = current_app.config
    approved = grant.approved_cents or 0
    share = config["ADVANCE_SHARE"]
    return Terms(
        reference=f"PG-{grant.title_award.year}-{grant.id:04d}",
        version=version,
        issued_on=today(),
        programme=config.get("PROGRAMME_NAME") or PROGRAMME,
        city=grant.city.name,
        country=grant.city.country,
        title_year=grant.title_award.year,
        grant_id=grant.id,
        pilot_title=grant.title,
        summary=grant.summary or "",
        start_date=grant.start_date,
        end_date=grant.end_date,
        approved_cents=approved,
        budget=tuple(
            BudgetRow(line.category, line.description, line.amount_cents)
            for line in grant.budget_lines
        ),
        advance_share=share,
        advance_cents=share_of(approved, share),
        interim_due_on=interim_due_on,
        final_due_on=grant.end_date + dt.timedelta(days=config["FINAL_REPORT_DUE_DAYS"]),
        final_report_due_days=config["FINAL_REPORT_DUE_DAYS"],
    )


def issue_agreement(
    grant: Grant,
    *,
    interim_due_on: dt.date,
    actor: User | None,
    record: bool = True,
    build: Callable[[Terms], bytes] = build_agreement_pdf,
) -> GrantAgreement:
    """Issue the next version of ``grant``'s agreement (1 on approval, then version + 1).

    The PDF is built from the grant's records and stored as issued, with its SHA-256. With
    ``record`` the issue is an audit event of its own (``agreement_issued``); the approval
    records version 1 inside its own ``approve`` event instead (one decision, one event).
    The caller holds the grant's lock, so two issues cannot take the same version.
    """
    latest = db.session.scalar(
        select(func.max(GrantAgreement.version)).where(GrantAgreement.grant_id == grant.id)
    )
    version = (latest or 0) + 1
    terms = agreement_terms(grant, version, interim_due_on=interim_due_on)
    content = build(terms)
    agreement = GrantAgreement(
        grant_id=grant.id,
        version=version,
        state=AGREEMENT.initial,
        issued_at=utcnow(),
        issued_by_id=actor.id if actor else None,
        sha256=hashlib.sha256(content).hexdigest(),
        terms_sha256=terms.sha256(),
        content=content,
    )
    db.session.add(agreement)
    db.session.flush()
    if record:
        audit.log(
            Action.AGREEMENT_ISSUED,
            agreement,
            actor=actor,
            to_state=agreement.state,
            data=agreement_stamp(agreement),
        )
    return agreement


def agreement_stamp(agreement: GrantAgreement) -> dict[str, Any]:
    """What an audit event says of an agreement: its version and the hashes of its file."""
    return {
        "agreement_id": agreement.id,
        "version": agreement.version,
        "sha256": agreement.sha256,
        "terms_sha256": agreement.terms_sha256,
    }


def get_agreement(grant: Grant) -> GrantAgreement:
    """The agreement in force of ``grant``; 404 before approval (none was issued)."""
    agreement = agreement_in_force(grant.id)
    if agreement is None:
        raise NotFound("This grant has no agreement: it is issued when the grant is approved.")
    return agreement


def transition_agreement(
    agreement: GrantAgreement, data: dict[str, Any], *, actor: User, address: str | None
) -> GrantAgreement:
    """The city's member signs (typed full name), then finance or an admin countersigns.

    A signature records the time, ``address`` (the request's remote address) and the SHA-256
    of the PDF that was signed, on the row and in the audit trail. The caller holds the grant's
    lock (two signatures at once: one wins, the other is 409).
    """
    event = data["event"]
    precheck(AGREEMENT, event, actor.role, None, what="agreements")
    name = (data.get("signatory_name") or "").strip()
    if event == "sign" and not name:
        raise Unprocessable.field("signatory_name", "Type your full name to sign.")
    if event != "sign" and name:
        raise Unprocessable.field("signatory_name", "Only the city's signature takes a name.")
    may_fire_agreement_event(agreement, event, actor).enforce()

    now = utcnow()
    stamp = agreement_stamp(agreement)
    if event == "sign":
        agreement.city_signed_by = actor
        agreement.city_signatory_name = " ".join(name.split())
        agreement.city_signed_at = now
        agreement.city_signed_from = (address or "")[:64] or None
        agreement.city_signed_sha256 = agreement.sha256
        stamp |= {"signatory_name": agreement.city_signatory_name, "address": address}
    else:
        agreement.countersigned_by = actor
        agreement.countersigned_at = now
        stamp |= {"address": address}
    fire_and_record(
        AGREEMENT,
        agreement,
        event,
        actor=actor,
        action=AGREEMENT_ACTIONS[event],
        comment=None,
        data=stamp,
    )
    return agreement
