"""Thin job entry points: RQ (when ``REDIS_URL`` is set) or in-process, through the same code.

The export row is the truth. Its ``job_id`` names the one job that may run it: written on the
row (a guarded claim, ``exports.services.claim_queued``) before that job is queued, checked
when the job starts, renews its lease and finishes. A job marks the row running (with a lease),
builds the workbook, and writes the file, its checksum and ``finished`` in one transaction: a
killed worker can leave a row running (the lease runs out and the dispatcher,
``exports.dispatcher``, queues it again under a new job id), never finished with a partial
file. A job that no longer owns its row (run twice, or superseded after its lease ran out)
does nothing, or stops at its next progress report.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import tempfile
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry, get_current_job
from sqlalchemy import update

from exports.datasets import scope_for, statement_sheets
from exports.models import FINISHED, QUEUED, RUNNING, Export
from exports.services import claim_queued, mark_failed
from exports.statement import about_rows, estimate_rows, file_name, properties
from exports.workbooks import write_workbook
from grants.db import utcnow
from grants.extensions import db
from grants.queue import redis_connection

log = logging.getLogger(__name__)


def _lease(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=current_app.config["EXPORT_LEASE_SECONDS"])


def _owned(export_id: int, job_id: str | None) -> tuple[Any, ...]:
    """The row while ``job_id`` owns it (``None``: the in-process path, which has no job id)."""
    job = Export.job_id.is_(None) if job_id is None else Export.job_id == job_id
    return (Export.id == export_id, job)


class Superseded(Exception):
    """The row is no longer this job's: its lease ran out and another job was queued for it."""


def _start(export_id: int, job_id: str | None) -> bool:
    """Claim the queued row for this job: refused if it is finished, failed, running, or queued
    for another job (a stale or duplicate job never runs a statement a second time)."""
    now = utcnow()
    claimed = db.session.execute(
        update(Export)
        .where(*_owned(export_id, job_id), Export.status == QUEUED)
        .values(
            status=RUNNING,
            attempts=Export.attempts + 1,
            started_at=now,
            lease_until=_lease(now),
            progress=0,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _progress(export_id: int, job_id: str | None, total_rows: int) -> Any:
    """Progress and lease, written on a connection of their own: the read goes on meanwhile."""

    def report(done: int) -> None:
        percent = min(99, int(done * 100 / max(total_rows, 1)))
        with db.engine.begin() as conn:
            renewed = conn.execute(
                update(Export)
                .where(*_owned(export_id, job_id), Export.status == RUNNING)
                .values(progress=percent, lease_until=_lease(utcnow()))
            ).rowcount
        if not renewed:
            raise Superseded(export_id)

    return report


def run_export(export_id: int, job_id: str | None = None) -> str:
    """Build the statement of one export row (the RQ job and the in-process path)."""
    if not _start(export_id, job_id):
        log.info("export %s is not queued for job %s: nothing to do", export_id, job_id)
        return "skipped"
    try:
        return _build(export_id, job_id)
    except Superseded:
        db.session.rollback()
        log.warning("export %s: job %s lost its lease to a newer job; stopped", export_id, job_id)
        return "superseded"


def _build(export_id: int, job_id: str | None) -> str:
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
            progress=_progress(export_id, job_id, total),
        )
        out.seek(0)
        content = out.read()
    digest = hashlib.sha256(content).hexdigest()
    db.session.rollback()
    done = db.session.execute(
        update(Export)
        .where(*_owned(export_id, job_id), Export.status == RUNNING)
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


def enqueue(export_id: int, job_id: str, attempts: int = 0) -> str:
    """Queue the job ``job_id`` that the row already names (after a claim); RQ retries a failure
    as long as the row has tries left (``attempts`` made so far)."""
    retries = current_app.config["EXPORT_MAX_ATTEMPTS"] - attempts - 1
    queue().enqueue(
        "exports.jobs.rq_job",
        export_id,
        job_id=job_id,
        job_timeout=current_app.config["EXPORT_JOB_TIMEOUT"],
        retry=Retry(max=retries) if retries > 0 else None,
        on_failure=Callback(on_job_failure),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"export {export_id}",
    )
    return job_id


def rq_job(export_id: int) -> str:
    """The RQ entry point (the worker provides the app context)."""
    job = get_current_job()
    return run_export(export_id, job.id if job else None)


def on_job_failure(job: Any, connection: Any, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback: back to queued while RQ retries, else failed with a readable message.

    Only while this job owns the row: a job superseded by a newer one leaves it alone.
    """
    export_id = job.args[0]
    retrying = bool(job.retries_left and job.retries_left > 0)
    log.error("export %s: job %s failed (retrying: %s): %s", export_id, job.id, retrying, exc)
    mark_failed(export_id, _describe(exc), retrying=retrying, job_id=job.id)


def dispatch(export_id: int) -> None:
    """After the commit: queue the job on Redis, or run it in-process without ``REDIS_URL``.

    Never fails the request: the row is committed and queued, and when Redis (or anything on
    the way) fails, the dispatcher (``exports.dispatcher.sweep``, run by every worker) queues
    it once Redis is back.
    """
    if not current_app.config["REDIS_URL"]:
        run_inline(export_id)
        return
    try:
        job_id = claim_queued(export_id, None)
        if job_id is not None:  # None: a sweep queued it already
            enqueue(export_id, job_id)
    except (RedisError, OSError) as exc:
        db.session.rollback()
        log.warning("export %s left queued for the dispatcher: Redis failed: %s", export_id, exc)
    except Exception:  # the row stays queued whatever went wrong; the dispatcher takes it
        db.session.rollback()
        log.warning("export %s left queued for the dispatcher", export_id, exc_info=True)
