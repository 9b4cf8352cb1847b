"""``flask --app wsgi exports worker [--burst]``: an RQ worker inside the app context, with the
dispatcher (``exports.dispatcher``) sweeping at its start and, beside it, while it works."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from rq import SimpleWorker

from exports.dispatcher import Sweeper, sweep
from exports.jobs import queue
from grants.queue import redis_ok

log = logging.getLogger(__name__)

exports_cli = AppGroup("exports", help="Financial statements.")


@exports_cli.command("worker")
@click.option("--burst", is_flag=True, help="Sweep once, drain the queue, then exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the export queue (needs REDIS_URL)."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: exports run in-process, no worker needed")
    _wait_for_redis()
    sweep()  # at start: what was requested while no worker (or Redis) ran, what a killed one left
    q = queue()
    # SimpleWorker runs jobs in this process, inside the app context opened by the CLI.
    worker = SimpleWorker([q], connection=q.connection)
    sweeper = None
    if not burst:  # beside the worker, in its own thread: see exports.dispatcher.Sweeper
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        sweeper = Sweeper(app, app.config["EXPORT_SWEEP_SECONDS"])
        sweeper.start()
    try:
        worker.work(burst=burst, logging_level="INFO")
    finally:
        if sweeper is not None:
            sweeper.stop()


def _wait_for_redis() -> None:
    """A worker started while Redis is down waits for it (it does not exit and need a restart)."""
    delay = 0.5
    while not redis_ok():
        log.warning("exports worker: Redis is not answering; trying again in %.1f s", delay)
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
