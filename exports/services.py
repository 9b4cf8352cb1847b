"""Requesting statements, audited downloads, and the guarded claims of who runs a row."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from exports.models import FAILED, FINISHED, QUEUED, RUNNING, Export
from grants import audit
from grants.audit import Action
from grants.cities.models import City, Title
from grants.db import utcnow
from grants.errors import NotFound, NotReady, Unprocessable
from grants.extensions import db
from grants.grant.models import Grant
from grants.users.models import User

log = logging.getLogger(__name__)


def check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a kind needs, checked against the database (unknown → 422)."""
    if kind == "grant_statement":
        if params.get("grant_id") is None:
            raise Unprocessable.field("grant_id", "Required for a grant statement.")
        if db.session.get(Grant, params["grant_id"]) is None:
            raise Unprocessable.field("grant_id", "No such grant.")
        return {"grant_id": params["grant_id"]}
    if kind == "city_statement":
        errors = {
            name: ["Required for a city statement."]
            for name in ("city_id", "title_year")
            if params.get(name) is None
        }
        if errors:
            raise Unprocessable(errors={"json": errors})
        if db.session.get(City, params["city_id"]) is None:
            raise Unprocessable.field("city_id", "No such city.")
        has_title = db.session.scalar(
            select(Title.id).where(
                Title.city_id == params["city_id"], Title.year == params["title_year"]
            )
        )
        if has_title is None:
            raise Unprocessable.field("title_year", "The city holds no title of that year.")
        return {"city_id": params["city_id"], "title_year": params["title_year"]}
    if params.get("title_year") is None:
        raise Unprocessable.field("title_year", "Required for a programme statement.")
    return {"title_year": params["title_year"]}


def request_export(kind: str, params: dict[str, Any], *, actor: User) -> Export:
    export = Export(
        kind=kind, params=check_params(kind, params), requested_by_id=actor.id, status=QUEUED
    )
    db.session.add(export)
    db.session.flush()
    audit.log(
        Action.EXPORT_REQUESTED,
        export,
        actor=actor,
        data={"export_id": export.id, "kind": kind, "params": export.params},
    )
    return export


def get_export(export_id: int) -> Export:
    export = db.session.get(Export, export_id)
    if export is None:
        raise NotFound("No such export.")
    return export


def download(export: Export, *, actor: User) -> bytes:
    if export.status != FINISHED:
        raise NotReady(f"The statement is {export.status}: the file is not ready.")
    content = db.session.scalar(select(Export.content).where(Export.id == export.id))
    audit.log(
        Action.EXPORT_DOWNLOADED,
        export,
        actor=actor,
        data={"export_id": export.id, "file_name": export.file_name, "sha256": export.sha256},
    )
    return content


def mark_failed(
    export_id: int, message: str, *, retrying: bool = False, job_id: str | None = None
) -> None:
    """Record a failure; a retried job goes back to the queue, else the export has failed.

    With ``job_id``, only while that job still owns the row (a newer job's row is left alone).
    """
    db.session.rollback()
    owned = [Export.id == export_id, Export.status.in_((QUEUED, RUNNING))]
    if job_id is not None:
        owned.append(Export.job_id == job_id)
    db.session.execute(
        update(Export)
        .where(*owned)
        .values(
            status=QUEUED if retrying else FAILED,
            error=message[:2000],
            progress=0,
            lease_until=None,
            finished_at=None if retrying else utcnow(),
        )
    )
    db.session.commit()


# ---------------------------------------------------------------------------------------------
# Claims: every change of who runs a row is one guarded UPDATE that names what its caller saw
# (status, job id, lease), so of two dispatchers that saw the same row exactly one wins.


def new_job_id(export_id: int) -> str:
    """A fresh RQ job id, written on the row before the job is queued (the job checks it)."""
    return f"export-{export_id}-{uuid.uuid4().hex}"


def _job_is(job_id: str | None) -> Any:
    return Export.job_id.is_(None) if job_id is None else Export.job_id == job_id


def claim_queued(export_id: int, seen_job_id: str | None) -> str | None:
    """Give a queued row a new job id if it still has ``seen_job_id``; the new id, or None."""
    job_id = new_job_id(export_id)
    claimed = db.session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status == QUEUED, _job_is(seen_job_id))
        .values(job_id=job_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return job_id if claimed else None


def reclaim_stale(
    export_id: int, seen_job_id: str | None, attempts: int, now: dt.datetime
) -> tuple[str, str | None] | None:
    """A running row whose lease ran out at ``now``: queue it again under a new job id, or fail
    it after the last try. Returns ``(QUEUED, job_id)``, ``(FAILED, None)``, or None when the
    row changed meanwhile (its job renewed the lease, finished, or another dispatcher won)."""
    guard = (
        Export.id == export_id,
        Export.status == RUNNING,
        _job_is(seen_job_id),
        Export.attempts == attempts,
        Export.lease_until < now,
    )
    if attempts >= current_app.config["EXPORT_MAX_ATTEMPTS"]:
        job_id, values = (
            None,
            {
                "status": FAILED,
                "error": f"The worker stopped during the job {attempts} times; giving up.",
                "finished_at": now,
            },
        )
    else:
        job_id = new_job_id(export_id)
        values = {
            "status": QUEUED,
            "job_id": job_id,
            "error": "The worker stopped during the job; it runs again.",
        }
    claimed = db.session.execute(
        update(Export)
        .where(*guard)
        .values(lease_until=None, progress=0, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return None
    return (QUEUED, job_id) if job_id else (FAILED, None)
