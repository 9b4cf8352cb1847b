"""The dispatcher: the export rows are the queue's truth, and Redis is made to agree with them.

``sweep`` (run by every worker at start and every ``EXPORT_SWEEP_SECONDS`` while it works):

- a ``queued`` row whose job is not waiting in Redis (never queued because Redis was down,
  lost with Redis, or taken by a worker that died before it started the row) gets a new job id
  and is queued again;
- a ``running`` row whose lease ran out (its worker died) is queued again under a new job id,
  or failed with a readable message after ``EXPORT_MAX_ATTEMPTS`` tries.

Each of these is a guarded claim (``exports.services``): an UPDATE that names the status, job
id and lease its sweep saw, so of two sweeps at once exactly one queues a row. A job runs a row
only while the row names it (``exports.jobs._start``), so a stale or duplicate job never runs a
statement a second time. The rows are read in a short read-only transaction and Redis is asked
outside of any transaction; every claim is a transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from flask import Flask, current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import and_, or_, select

from exports.jobs import enqueue, queue
from exports.models import FAILED, QUEUED, RUNNING, Export
from exports.services import claim_queued, reclaim_stale
from grants.db import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

#: Rows looked at per sweep (oldest first); the rest wait for the next sweep.
BATCH = 500


@dataclass
class Swept:
    """What one sweep did: the export ids it queued (again) and those it failed."""

    queued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def job_waiting(job_id: str | None, now: dt.datetime) -> bool:
    """Whether Redis holds ``job_id`` as a job that will still run its (queued) row.

    Waiting: queued in the queue's list, deferred or scheduled. Taken by a worker (started, or
    dequeued but not started yet) counts as waiting only for one lease after it was started:
    a live worker claims the row at once, so a row still queued after that lost its worker.
    """
    if job_id is None:
        return False
    q = queue()
    try:
        job = Job.fetch(job_id, connection=q.connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status in (JobStatus.DEFERRED, JobStatus.SCHEDULED):
        return True
    if status == JobStatus.QUEUED and q.get_job_position(job_id) is not None:
        return True
    if status in (JobStatus.QUEUED, JobStatus.STARTED):
        since = job.started_at or job.enqueued_at
        lease = dt.timedelta(seconds=current_app.config["EXPORT_LEASE_SECONDS"])
        return since is not None and now - since < lease
    return False  # finished, failed, stopped, canceled: it will not run the row


def sweep(now: dt.datetime | None = None) -> Swept:
    """Queue what the rows say should be queued (see the module); needs ``REDIS_URL``."""
    swept = Swept()
    if not current_app.config["REDIS_URL"]:
        return swept
    now = now or utcnow()
    db.session.rollback()
    db.session.connection(execution_options={"read_only": True})
    rows = db.session.execute(
        select(Export.id, Export.status, Export.job_id, Export.attempts)
        .where(
            or_(
                Export.status == QUEUED,
                and_(Export.status == RUNNING, Export.lease_until < now),
            )
        )
        .order_by(Export.id)
        .limit(BATCH)
    ).all()
    db.session.rollback()
    for row in rows:
        if row.status == RUNNING:
            outcome = reclaim_stale(row.id, row.job_id, row.attempts, now)
            if outcome is None:
                continue  # its job renewed the lease or finished, or another sweep took it
            status, job_id = outcome
            if status == FAILED or job_id is None:
                swept.failed.append(row.id)
                continue
            enqueue(row.id, job_id, row.attempts)
            swept.queued.append(row.id)
        elif not job_waiting(row.job_id, now):
            job_id = claim_queued(row.id, row.job_id)
            if job_id is not None:  # None: it started, or another sweep queued it
                enqueue(row.id, job_id, row.attempts)
                swept.queued.append(row.id)
    if swept.queued or swept.failed:
        log.warning("export dispatcher: queued %s, failed %s", swept.queued, swept.failed)
    return swept


class Sweeper(threading.Thread):
    """Sweeps every ``every`` seconds in its own app context (and database session) beside the
    worker, which runs jobs in its main thread: a long statement does not stop the sweeps."""

    def __init__(self, app: Flask, every: float) -> None:
        super().__init__(name="export-dispatcher", daemon=True)
        self.app, self.every = app, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            with self.app.app_context():
                try:
                    sweep()
                except RedisError as exc:  # down for now: the next sweep tries again
                    log.warning("export dispatcher: Redis failed: %s", exc)
                except Exception:  # the database, say: log it, keep sweeping
                    log.exception("export dispatcher: the sweep failed")
                finally:
                    db.session.remove()

    def stop(self) -> None:
        self.stopped.set()
