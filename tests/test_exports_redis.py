"""Statements on the real path: Redis, and a separate ``exports worker`` process."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook

from grants.app import create_app
from tests.conftest import REDIS_URL, needs_redis
from tests.factories import Factory
from tests.test_money_life import approved_grant, pay

ROOT = Path(__file__).resolve().parent.parent
pytestmark = needs_redis


@pytest.fixture
def queue_name():
    name = f"exports-test-{uuid.uuid4().hex[:8]}"
    yield name
    from redis import Redis

    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"rq:*{name}*"):
        redis.delete(key)


@pytest.fixture
def redis_app(app, database_url, queue_name):
    """The same database as ``app``, with jobs queued on Redis."""
    redis_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "EXPORT_QUEUE": queue_name,
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        }
    )
    with redis_app.app_context():
        yield redis_app
        from grants.extensions import db
        from grants.queue import close_redis

        db.session.remove()
        db.engine.dispose()
    close_redis(redis_app)


def worker_env(database_url: str, queue_name: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        EXPORT_QUEUE=queue_name,
        SECRET_KEY="test-secret",
        **extra,
    )
    return env


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "exports", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def a_pilot(redis_app):
    make = Factory(redis_app)
    _city, _member, a, b, gid = approved_grant(make)
    pay(a, b, gid, "advance")
    return make.as_role("auditor"), gid


def test_a_separate_worker_process_builds_the_statement(redis_app, database_url, queue_name):
    auditor, gid = a_pilot(redis_app)
    r = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid})
    assert r.status_code == 202
    export_id = r.get_json()["id"]
    assert r.get_json()["status"] == "queued"
    assert auditor.get(f"/exports/{export_id}/file").status_code == 409

    done = run_worker(worker_env(database_url, queue_name))
    assert done.returncode == 0, done.stderr[-2000:]

    status = auditor.get(f"/exports/{export_id}").get_json()
    assert status["status"] == "finished", status
    assert status["progress"] == 100
    f = auditor.get(f"/exports/{export_id}/file")
    assert f.status_code == 200
    assert hashlib.sha256(f.data).hexdigest() == status["sha256"]
    wb = load_workbook(BytesIO(f.data))
    assert "Summary" in wb.sheetnames


SLOW_WORKER = """
import sys, time
import exports.jobs as jobs
real = jobs.write_workbook
def slow(*args, **kwargs):
    print("job started", flush=True)
    time.sleep(60)
    return real(*args, **kwargs)
jobs.write_workbook = slow
from wsgi import app
result = app.test_cli_runner().invoke(args=["exports", "worker", "--burst"])
print(result.output)
"""


def test_a_worker_killed_mid_job_never_leaves_a_partial_file(redis_app, database_url, queue_name):
    auditor, gid = a_pilot(redis_app)
    export_id = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid}).get_json()[
        "id"
    ]
    env = worker_env(database_url, queue_name, EXPORT_LEASE_SECONDS="2")
    worker = subprocess.Popen(
        [sys.executable, "-c", SLOW_WORKER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while auditor.get(f"/exports/{export_id}").get_json()["status"] != "running":
            assert time.monotonic() < deadline, "the worker never started the job"
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
        worker.stdout.close()
    status = auditor.get(f"/exports/{export_id}").get_json()
    assert status["status"] == "running"
    assert status["sha256"] is None and status["size"] is None
    assert auditor.get(f"/exports/{export_id}/file").get_json()["reason"] == "not_ready"

    time.sleep(2.5)  # the killed job's lease runs out
    done = run_worker(env)
    assert done.returncode == 0, done.stderr[-2000:]
    status = auditor.get(f"/exports/{export_id}").get_json()
    assert status["status"] == "finished", status
    f = auditor.get(f"/exports/{export_id}/file")
    assert hashlib.sha256(f.data).hexdigest() == status["sha256"]
    load_workbook(BytesIO(f.data))


def test_a_job_that_raises_on_the_worker_ends_failed(redis_app, database_url, queue_name):
    auditor, gid = a_pilot(redis_app)
    export_id = auditor.post("/exports", {"kind": "grant_statement", "grant_id": gid}).get_json()[
        "id"
    ]
    script = (
        "import exports.jobs as jobs\n"
        "def broken(*a, **k):\n    raise OSError('no space left on device')\n"
        "jobs.write_workbook = broken\n"
        "from wsgi import app\n"
        "app.test_cli_runner().invoke(args=['exports', 'worker', '--burst'])\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=worker_env(database_url, queue_name),
        timeout=120,
        check=True,
    )
    status = auditor.get(f"/exports/{export_id}").get_json()
    assert status["status"] == "failed", status
    assert "no space left on device" in status["error"]
    assert auditor.get(f"/exports/{export_id}/file").get_json()["reason"] == "not_ready"
