"""Who may file, edit a report or add its receipts now: each rule once, as a Verdict.

The services enforce these verdicts; the pages read them to offer only what would pass.
"""

from __future__ import annotations

from sqlalchemy import select

from grants.errors import ALLOWED, Conflict, Forbidden, InvalidTransition, Verdict, refuse
from grants.extensions import db
from grants.grant.models import Grant
from grants.reports.models import Report
from grants.users.models import User
from workflows.grant import (
    ADMIN,
    AUDITOR,
    CITY_MEMBER,
    DISBURSED,
    FINANCE_OFFICER,
    INTERIM_REPORTED,
)
from workflows.report import EDITABLE, FINAL, INTERIM

#: The grant state in which each kind of report is filed.
FILED_IN = {INTERIM: DISBURSED, FINAL: INTERIM_REPORTED}


def may_file_report(grant: Grant, kind: str, user: User) -> Verdict:
    """A city's team files each kind of report once, in the grant state it belongs to."""
    if user.role != CITY_MEMBER:
        return refuse(Forbidden("Reports are filed by the city's team."))
    existing = db.session.scalar(
        select(Report.id).where(Report.grant_id == grant.id, Report.kind == kind)
    )
    if existing is not None:
        return refuse(
            Conflict(f"This grant has its {kind} report already (id {existing}): edit that one.")
        )
    if grant.state != FILED_IN[kind]:
        return refuse(
            InvalidTransition(
                f"An {kind} report is filed when the grant is {FILED_IN[kind]}, not {grant.state}."
            )
        )
    return ALLOWED


def may_edit_report(report: Report, user: User) -> Verdict:
    """A city's team edits its report while it is a draft or was returned."""
    if user.role != CITY_MEMBER:
        return refuse(Forbidden("Reports are edited by the city's team."))
    if report.state not in EDITABLE:
        return refuse(
            InvalidTransition(
                f"A report can be edited while draft or returned, not {report.state}."
            )
        )
    return ALLOWED


def may_upload_receipt(report: Report, user: User) -> Verdict:
    """A city's team adds receipts while the report is a draft or was returned.

    The role is refused with 403, the state with 409; the service checks the file itself
    (413, 415, 422) between the two, as api.md orders them.
    """
    if user.role != CITY_MEMBER:
        return refuse(Forbidden("Receipts are uploaded by the city's team."))
    if report.state not in EDITABLE:
        return refuse(
            InvalidTransition(
                f"Receipts are added while the report is draft or returned, not {report.state}."
            )
        )
    return ALLOWED


#: The roles that see which other line an expense line's warning collides with.
SEES_OTHER_LINES = (FINANCE_OFFICER, ADMIN, AUDITOR)


def may_see_other_lines(user: User) -> bool:
    """Finance, admins and auditors see the other line of a warning; a city never does.

    A city must not learn about other cities' lines (their ids included), so its warnings say
    what collides, never with which line; a mentor reads them as the city does.
    """
    return user.role in SEES_OTHER_LINES
