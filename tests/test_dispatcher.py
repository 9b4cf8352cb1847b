"""The export dispatcher: the row is the queue's truth, whatever Redis and the workers do.

A private ``redis-server`` (free port, nothing on disk) is started for each test, and killed
and started again where a test needs Redis down; workers are separate processes, SIGKILLed in
the middle and started again at once. Runs on SQLite and on PostgreSQL (``TEST_DATABASE_URL``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from exports import dispatcher
from exports import jobs as export_jobs
from exports.models import FAILED, QUEUED, RUNNING, Export
from grants.app import create_app
from grants.audit import AuditEvent
from grants.db import utcnow
from grants.extensions import db
from grants.queue import close_redis
from tests.redis_server import RedisServer, needs_redis_server
from tests.test_exports_redis import a_pilot

ROOT = Path(__file__).resolve().parent.parent
LEASE = 5  # seconds: short, so that a killed worker's lease runs out within the test
pytestmark = needs_redis_server


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def redis_app(app: Flask, database_url: str, redis_server: RedisServer) -> Iterator[Flask]:
    """The tests' database, statements queued on the private Redis."""
    redis_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "EXPORT_LEASE_SECONDS": LEASE,
            "EXPORT_SWEEP_SECONDS": 1,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )
    with redis_app.app_context():
        yield redis_app
        db.session.remove()
        db.engine.dispose()
    close_redis(redis_app)


# ---------------------------------------------------------------------------------------------
# Helpers


def row(export_id: int) -> Export:
    """The export row as committed now (no snapshot kept open)."""
    db.session.rollback()
    export = db.session.get(Export, export_id)
    db.session.expunge(export)
    db.session.rollback()
    return export


def redis(app: Flask) -> Redis:
    return Redis.from_url(app.config["REDIS_URL"])


def jobs_of(app: Flask, export_id: int) -> list[Job]:
    """Every RQ job ever queued for ``export_id`` (job ids are ``export-<id>-<hex>``)."""
    conn = redis(app)
    pattern = re.compile(rf"rq:job:(export-{export_id}-[0-9a-f]{{32}})")
    ids = {m.group(1) for k in conn.scan_iter("rq:job:*") if (m := pattern.fullmatch(k.decode()))}
    return [Job.fetch(job_id, connection=conn) for job_id in sorted(ids)]


def results_of(app: Flask, export_id: int) -> list[Any]:
    return [job.return_value() for job in jobs_of(app, export_id)]


def audit_actions(export_id: int) -> list[str]:
    db.session.rollback()
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.subject_id == export_id, AuditEvent.action.like("export_%"))
        .order_by(AuditEvent.id)
    ).all()
    db.session.rollback()
    return list(actions)


def worker_env(app: Flask, database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=app.config["REDIS_URL"],
        SECRET_KEY="test-secret",
        EXPORT_LEASE_SECONDS=str(LEASE),
        EXPORT_SWEEP_SECONDS="1",
        **extra,
    )
    return env


FLASK_WORKER = [sys.executable, "-m", "flask", "--app", "wsgi", "exports", "worker"]

#: The real ``flask --app wsgi exports worker`` with the job held at one point (TEST_HOLD):
#: ``claim``, after the worker took the job from Redis and before it claims the row; ``build``,
#: after it claimed the row (running, lease taken) and before the workbook is written.
HELD_WORKER = """
import os, sys, time
import exports.jobs as jobs
hold = os.environ["TEST_HOLD"]
name = "_start" if hold == "claim" else "write_workbook"
real = getattr(jobs, name)
def held(*args, **kwargs):
    print("holding at", hold, flush=True)
    time.sleep(600)
    return real(*args, **kwargs)
setattr(jobs, name, held)
from flask.cli import main
sys.argv = ["flask", "--app", "wsgi", "exports", "worker"]
main()
"""


class Worker:
    """A worker process whose output goes to a file (a full pipe would stall it)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = log.open("w")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.out, stderr=subprocess.STDOUT, text=True
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"the worker exited: {self.output()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} from the worker: {self.output()}"
            time.sleep(0.05)

    def sigkill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # RQ's warm shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.out.close()


def wait_finished(auditor: Any, export_id: int, timeout: float, worker: Worker) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = auditor.get(f"/exports/{export_id}").get_json()
        if status["status"] in ("finished", "failed"):
            return status
        assert time.monotonic() < deadline, (status, worker.output()[-3000:])
        time.sleep(0.2)


def assert_finished_once(app: Flask, auditor: Any, export_id: int, attempts: int) -> None:
    """Finished by exactly one job, after ``attempts`` runs; the file is the checksummed one."""
    export = row(export_id)
    assert export.status == "finished" and export.error is None
    assert export.attempts == attempts, export.attempts
    results = results_of(app, export_id)
    assert results.count("finished") == 1, results
    assert export.job_id in [job.id for job in jobs_of(app, export_id)]
    f = auditor.get(f"/exports/{export_id}/file")
    assert f.status_code == 200
    digest = hashlib.sha256(f.data).hexdigest()
    assert digest == export.sha256 == f.headers["X-Content-SHA256"]
    assert len(f.data) == export.size
    assert audit_actions(export_id) == ["export_requested", "export_downloaded"]


# ---------------------------------------------------------------------------------------------
# (a) Redis down when the statement is requested


@pytest.mark.slow
def test_a_statement_requested_while_redis_is_down_runs_once_it_is_back(
    redis_app, redis_server, database_url, caplog, tmp_path
):
    auditor, gid = a_pilot(redis_app)
    redis_server.kill()

    with caplog.at_level(logging.WARNING, logger="exports.jobs"):
        r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})

    assert r.status_code == 202, r.get_json()
    assert r.get_json()["status"] == "queued"
    export_id = r.get_json()["id"]
    assert f"export {export_id} left queued for the dispatcher" in caplog.text
    assert row(export_id).status == QUEUED and row(export_id).attempts == 0
    # While Redis is down the sweep cannot queue it (the worker's thread logs and retries).
    with pytest.raises(Exception, match=r"(?i)connect"):
        dispatcher.sweep()
    assert row(export_id).status == QUEUED

    redis_server.start()  # the same port, empty: the job never reached it
    assert jobs_of(redis_app, export_id) == []
    worker = Worker(FLASK_WORKER, worker_env(redis_app, database_url), tmp_path / "worker.log")
    try:
        status = wait_finished(auditor, export_id, LEASE + 60, worker)
    finally:
        worker.stop()
    assert status["status"] == "finished", status
    assert_finished_once(redis_app, auditor, export_id, attempts=1)


@pytest.mark.slow
def test_a_worker_started_while_redis_is_down_waits_for_it_and_then_works(
    redis_app, redis_server, database_url, tmp_path
):
    auditor, gid = a_pilot(redis_app)
    redis_server.kill()
    r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})
    assert r.status_code == 202
    export_id = r.get_json()["id"]
    worker = Worker(FLASK_WORKER, worker_env(redis_app, database_url), tmp_path / "worker.log")
    try:
        worker.wait_for("Redis is not answering")
        time.sleep(1.5)
        assert worker.process.poll() is None, worker.output()  # waiting, not exited
        redis_server.start()
        status = wait_finished(auditor, export_id, LEASE + 60, worker)
    finally:
        worker.stop()
    assert status["status"] == "finished", status
    assert_finished_once(redis_app, auditor, export_id, attempts=1)


# ---------------------------------------------------------------------------------------------
# (b) A worker SIGKILLed, and another started at once


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hold", "attempts"),
    [
        # Killed right after the statement was requested: the job taken from Redis, the row
        # not claimed yet (queued, its RQ job "started" by a dead worker).
        ("claim", 1),
        # Killed in the middle of the job: the row running, its lease held by a dead worker.
        ("build", 2),
    ],
)
def test_a_killed_workers_statement_finishes_once_when_a_worker_runs(
    redis_app, database_url, tmp_path, hold, attempts
):
    auditor, gid = a_pilot(redis_app)
    env = worker_env(redis_app, database_url)
    first = Worker(
        [sys.executable, "-c", HELD_WORKER], {**env, "TEST_HOLD": hold}, tmp_path / "first.log"
    )
    second = None
    try:
        r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})
        assert r.status_code == 202
        export_id = r.get_json()["id"]
        first.wait_for(f"holding at {hold}")
        killed = row(export_id)
        first.sigkill()

        second = Worker(FLASK_WORKER, env, tmp_path / "second.log")  # at once
        restarted = time.monotonic()
        # The state the kill left behind, as intended by the hold.
        if hold == "claim":
            assert (killed.status, killed.attempts) == (QUEUED, 0)
        else:
            assert (killed.status, killed.attempts, killed.sha256) == (RUNNING, 1, None)
        status = wait_finished(auditor, export_id, LEASE + 60, second)
        took = time.monotonic() - restarted
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert status["status"] == "finished", (status, second.output()[-3000:])
    assert took <= LEASE + 60
    assert_finished_once(redis_app, auditor, export_id, attempts=attempts)
    assert row(export_id).job_id != killed.job_id  # re-queued under a new job id
    assert len(jobs_of(redis_app, export_id)) == 2


# ---------------------------------------------------------------------------------------------
# (c) Sweeps at once, and what a sweep leaves alone


def queued_row(redis_app: Flask, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, int]:
    """A statement requested whose job never reached Redis (dispatch did nothing)."""
    auditor, gid = a_pilot(redis_app)
    with monkeypatch.context() as m:
        m.setattr(export_jobs, "dispatch", lambda export_id: None)
        export_id = auditor.post(
            "/exports", {"kind": "grant_statement", "grant_id": gid}
        ).get_json()["id"]
    return auditor, export_id


def two_sweeps_at_once(redis_app: Flask, monkeypatch: pytest.MonkeyPatch, now: Any) -> list:
    """Two sweeps in two threads (own app contexts and connections), both past their read of
    the rows before either claims one: a barrier holds each claim until both arrived."""
    barrier = threading.Barrier(2, timeout=30)
    for name in ("claim_queued", "reclaim_stale"):
        real = getattr(dispatcher, name)

        def held(*args: Any, _real: Any = real) -> Any:
            barrier.wait()
            return _real(*args)

        monkeypatch.setattr(dispatcher, name, held)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        with redis_app.app_context():
            try:
                results[i] = dispatcher.sweep(now)
            except BaseException as exc:
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for result in results:
        assert isinstance(result, dispatcher.Swept), result
    return results


def test_two_sweeps_at_once_queue_a_lost_row_once(redis_app, monkeypatch):
    _auditor, export_id = queued_row(redis_app, monkeypatch)
    assert row(export_id).job_id is None

    results = two_sweeps_at_once(redis_app, monkeypatch, utcnow())

    assert sorted(r.queued for r in results) == [[], [export_id]]
    q = Queue("exports", connection=redis(redis_app))
    assert q.get_job_ids() == [row(export_id).job_id]
    assert len(jobs_of(redis_app, export_id)) == 1


def test_two_sweeps_at_once_requeue_a_stale_running_row_once(redis_app, monkeypatch):
    _auditor, export_id = queued_row(redis_app, monkeypatch)
    assert export_jobs._start(export_id, None)  # running, as if its worker died at once
    assert row(export_id).status == RUNNING

    later = utcnow() + dt.timedelta(seconds=LEASE + 1)
    results = two_sweeps_at_once(redis_app, monkeypatch, later)

    assert sorted(r.queued for r in results) == [[], [export_id]]
    export = row(export_id)
    assert (export.status, export.attempts) == (QUEUED, 1)
    assert "runs again" in export.error
    q = Queue("exports", connection=redis(redis_app))
    assert q.get_job_ids() == [export.job_id]


def test_a_sweep_leaves_a_waiting_job_and_a_live_lease_alone(redis_app):
    auditor, gid = a_pilot(redis_app)
    waiting = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid}).get_json()[
        "id"
    ]
    job_id = row(waiting).job_id
    assert job_id is not None
    q = Queue("exports", connection=redis(redis_app))
    assert q.get_job_ids() == [job_id]

    assert dispatcher.sweep().queued == []  # waiting in Redis: not queued again
    assert q.get_job_ids() == [job_id] and row(waiting).job_id == job_id

    # Taken from the queue and claimed by a live worker: running under a lease not run out.
    q.remove(job_id)
    assert export_jobs._start(waiting, job_id)
    assert dispatcher.sweep().queued == []
    assert row(waiting).status == RUNNING and q.get_job_ids() == []


def test_the_sweep_fails_a_row_after_its_last_try_with_a_readable_message(redis_app, monkeypatch):
    _auditor, export_id = queued_row(redis_app, monkeypatch)
    limit = redis_app.config["EXPORT_MAX_ATTEMPTS"]
    db.session.execute(
        Export.__table__.update()
        .where(Export.id == export_id)
        .values(status=RUNNING, attempts=limit, lease_until=utcnow())
    )
    db.session.commit()

    swept = dispatcher.sweep(utcnow() + dt.timedelta(seconds=1))

    assert (swept.queued, swept.failed) == ([], [export_id])
    export = row(export_id)
    assert export.status == FAILED and export.finished_at is not None
    assert export.error == f"The worker stopped during the job {limit} times; giving up."
    assert Queue("exports", connection=redis(redis_app)).count == 0


def test_a_job_the_row_does_not_name_never_runs_it(redis_app, monkeypatch):
    """A duplicate or stale job (its row re-queued under another id) does nothing."""
    _auditor, export_id = queued_row(redis_app, monkeypatch)
    current = dispatcher.sweep().queued and row(export_id).job_id
    assert current

    assert export_jobs.run_export(export_id, "export-stale") == "skipped"
    assert row(export_id).status == QUEUED and row(export_id).attempts == 0
    assert export_jobs.run_export(export_id, current) == "finished"
    assert export_jobs.run_export(export_id, current) == "skipped"  # run twice: nothing
    assert row(export_id).attempts == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Export)) == 1
