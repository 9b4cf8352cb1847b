"""Requesting statements, dispatching their jobs, and audited downloads."""

from __future__ import annotations

import datetime as dt
import logging
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


def mark_failed(export_id: int, message: str, *, retrying: bool = False) -> None:
    """Record a failure; a retried job goes back to the queue, else the export has failed."""
    db.session.rollback()
    db.session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status.in_((QUEUED, RUNNING)))
        .values(
            status=QUEUED if retrying else FAILED,
            error=message[:2000],
            progress=0,
            lease_until=None,
            finished_at=None if retrying else utcnow(),
        )
    )
    db.session.commit()


def reap_stale(now: dt.datetime | None = None) -> list[int]:
    """Exports whose worker died mid-job (lease run out): queue again, or fail after the last try.

    Returns the ids queued again; the caller enqueues them.
    """
    now = now or utcnow()
    limit = current_app.config["EXPORT_MAX_ATTEMPTS"]
    stale = list(
        db.session.scalars(select(Export).where(Export.status == RUNNING, Export.lease_until < now))
    )
    requeue = []
    for export in stale:
        if export.attempts >= limit:
            export.status = FAILED
            export.error = f"The worker stopped during the job {export.attempts} times; giving up."
            export.finished_at = now
        else:
            export.status = QUEUED
            export.error = "The worker stopped during the job; it runs again."
            requeue.append(export.id)
        export.lease_until = None
        export.progress = 0
    db.session.commit()
    if stale:
        log.warning("stale exports: queued again %s, failed %s", requeue, len(stale) - len(requeue))
    return requeue
