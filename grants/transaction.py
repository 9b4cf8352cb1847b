"""A request's unit of work: one commit at its boundary, and what may run only after it.

The API's ``endpoint`` and the pages' ``page`` each own the transaction of their request: the
view and the services it calls only add and change rows; the boundary commits once, or rolls
everything back on an error. Work that must not run for a change that did not happen (a job
queued, a message shown, later a mail sent) is registered with :func:`after_commit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from grants.extensions import db

log = logging.getLogger(__name__)

_AFTER_COMMIT = "pearl.after_commit"


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` once the current transaction has committed; never if it rolls back."""
    db.session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def commit() -> None:
    """Commit the transaction, then run what waited for it (in the order it was registered).

    A callback that fails is logged and the others still run: the change is committed, and
    what a callback starts has a way to catch up (the export dispatcher re-queues a job).
    """
    db.session.commit()
    for callback in db.session.info.pop(_AFTER_COMMIT, []):
        try:
            callback()
        except Exception:  # the change is committed: its answer stands; the failure is logged
            log.exception("after the commit: %r failed", callback)


def rollback() -> None:
    """Undo the transaction and forget what waited for its commit."""
    db.session.rollback()
    db.session.info.pop(_AFTER_COMMIT, None)
