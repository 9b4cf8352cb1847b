"""Thin job entry points: RQ (when ``REDIS_URL`` is set) or in-process, through the same code.

The export row is the truth. A job marks it running (with a lease), builds the workbook, and
writes the file, its checksum and ``finished`` in one transaction: a killed worker can leave a
row running (the lease runs out and the next worker queues it again), never finished with a
partial file. A job run twice for the same row finds it finished and does nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from typing import Any

from flask import current_app
from rq import Callback, Queue, Retry, get_current_job
from sqlalchemy import select, update

from exports.datasets import scope_for, statement_sheets
from exports.models import FINISHED, QUEUED, RUNNING, Export
from exports.services import mark_failed
from exports.statement import about_rows, estimate_rows, file_name, properties
from exports.workbooks import write_workbook
from grants.db import utcnow
from grants.extensions import db
from grants.queue import redis_connection

log = logging.getLogger(__name__)


def _lease(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=current_app.config["EXPORT_LEASE_SECONDS"])


def _start(export_id: int, job_id: str | None) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status.in_((QUEUED, RUNNING)))
        .values(
            status=RUNNING,
            attempts=Export.attempts + 1,
            started_at=now,
            lease_until=_lease(now),
            job_id=job_id,
            progress=0,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _progress(export_id: int, total_rows: int) -> Any:
    """Progress and lease, written on a connection of their own: the read goes on meanwhile."""

    def report(done: int) -> None:
        percent = min(99, int(done * 100 / max(total_rows, 1)))
        with db.engine.begin() as conn:
            conn.execute(
                update(Export)
                .where(Export.id == export_id, Export.status == RUNNING)
                .values(progress=percent, lease_until=_lease(utcnow()))
            )

    return report


def run_export(export_id: int, job_id: str | None = None) -> str:
    """Build the statement of one export row (the RQ job and the in-process path)."""
    if not _start(export_id, job_id):
        log.info("export %s is finished or failed already: nothing to do", export_id)
        return "skipped"
    # One read for the whole workbook, which blocks no writer meanwhile.
    db.session.connection(execution_options={"read_only": True})
    export = db.session.get(Export, export_id)
    scope = scope_for(export.kind, export.params)
    generated_at = utcnow()
    requester = export.requested_by.email
    sheets = statement_sheets(scope)
    total = estimate_rows(scope)
    # On disk while it is written: only the finished file is ever held in memory, once.
    with tempfile.TemporaryFile() as out:
        results = write_workbook(
            sheets,
            out,
            properties=properties(export, requester),
            about=lambda r: about_rows(export, scope, requester, generated_at, r),
            progress=_progress(export_id, total),
        )
        out.seek(0)
        content = out.read()
    digest = hashlib.sha256(content).hexdigest()
    db.session.rollback()
    done = db.session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status == RUNNING)
        .values(
            status=FINISHED,
            progress=100,
            content=content,
            size=len(content),
            sha256=digest,
            file_name=file_name(export, generated_at),
            row_counts={name: r.rows for name, r in results.items()},
            error=None,
            lease_until=None,
            finished_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return "finished" if done else "superseded"


def run_inline(export_id: int) -> None:
    """The embedded default: run the job now, in this process; a failure marks the row failed."""
    try:
        run_export(export_id)
    except Exception as exc:  # any failure of the job is recorded on its row
        log.exception("export %s failed", export_id)
        mark_failed(export_id, _describe(exc))


def _describe(exc: BaseException) -> str:
    return f"The statement could not be built: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------------------
# RQ


def queue() -> Any:
    return Queue(
        current_app.config["EXPORT_QUEUE"],
        connection=redis_connection(),
        default_timeout=current_app.config["EXPORT_JOB_TIMEOUT"],
    )


def enqueue(export_id: int) -> str:
    job = queue().enqueue(
        "exports.jobs.rq_job",
        export_id,
        job_timeout=current_app.config["EXPORT_JOB_TIMEOUT"],
        retry=Retry(max=current_app.config["EXPORT_MAX_ATTEMPTS"] - 1),
        on_failure=Callback(on_job_failure),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"export {export_id}",
    )
    db.session.execute(update(Export).where(Export.id == export_id).values(job_id=job.id))
    db.session.commit()
    return job.id


def rq_job(export_id: int) -> str:
    """The RQ entry point (the worker provides the app context)."""
    job = get_current_job()
    return run_export(export_id, job.id if job else None)


def on_job_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: back to queued while RQ retries, else failed with a readable message."""
    export_id = job.args[0]
    retrying = bool(job.retries_left and job.retries_left > 0)
    log.error("export %s: job %s failed (retrying: %s): %s", export_id, job.id, retrying, exc)
    current = db.session.scalar(select(Export.job_id).where(Export.id == export_id))
    db.session.rollback()
    if current not in (None, job.id):
        return  # a newer job owns the row
    mark_failed(export_id, _describe(exc), retrying=retrying)


def dispatch(export_id: int) -> None:
    """After the commit: enqueue on Redis, or run in-process when no ``REDIS_URL`` is set."""
    if current_app.config["REDIS_URL"]:
        enqueue(export_id)
    else:
        run_inline(export_id)
