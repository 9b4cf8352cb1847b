"""``flask --app wsgi exports worker [--burst]``: an RQ worker inside the app context."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from rq import SimpleWorker

from exports.jobs import enqueue, queue
from exports.services import reap_stale

exports_cli = AppGroup("exports", help="Financial statements.")


@exports_cli.command("worker")
@click.option("--burst", is_flag=True, help="Drain the queue, then exit.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run an RQ worker for the export queue (needs REDIS_URL)."""
    if not current_app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: exports run in-process, no worker needed")
    for export_id in reap_stale():
        enqueue(export_id)
    q = queue()
    # SimpleWorker runs jobs in this process, inside the app context opened by the CLI.
    worker = SimpleWorker([q], connection=q.connection)
    worker.work(burst=burst, logging_level="INFO")
