"""Database connections: engine options, how a transaction begins, a cheap liveness check.

- **SQLite** takes its write lock up front (``BEGIN IMMEDIATE``), so contention ends in a wait,
  not a deadlock; a read begins a deferred transaction, which in WAL mode blocks no writer.
- **PostgreSQL**: a read request runs its statements in autocommit. Under READ COMMITTED each
  statement of a transaction sees its own snapshot anyway, so a read loses no consistency; it
  saves the ``BEGIN`` and the ``COMMIT`` round trips.
- A pooled PostgreSQL connection is checked at checkout without a round trip: an idle
  connection has nothing to read, so a readable socket means the server closed it (a restart,
  ``pg_terminate_backend``) and the pool opens a fresh one. This keeps what ``pool_pre_ping``
  gave (a database that dropped every connection is survived) without a ``SELECT 1`` per
  request.

A read is a GET or HEAD request whose view is not marked as writing
(``grants.http.auth.mark_writes``: a download recorded in the audit trail), or a connection
opened with the execution option ``read_only`` (long reads such as building a statement).
"""

from __future__ import annotations

import select
from collections.abc import Mapping
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from grants.extensions import db


def engine_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Engine options; bound parameters (password hashes, tokens) never reach a log or error."""
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite"):
        return {
            "hide_parameters": True,
            "connect_args": {"timeout": settings["SQLITE_BUSY_TIMEOUT_MS"] / 1000},
        }
    if url.startswith("postgresql"):
        return {
            "hide_parameters": True,
            "pool_size": settings["DB_POOL_SIZE"],
            "max_overflow": settings["DB_POOL_SIZE"],
            "connect_args": {"options": f"-c lock_timeout={settings['LOCK_TIMEOUT_MS']}"},
        }
    return {"hide_parameters": True}


def read_request() -> bool:
    """A GET or HEAD whose view does not write."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return view is not None and not getattr(view, "writes", False)


def reads_in_autocommit() -> None:
    """``before_request``: on PostgreSQL, a read request's connection runs in autocommit."""
    if read_request() and db.engine.dialect.name == "postgresql":
        session = db.session()
        if not session.in_transaction():  # a session shared with a caller (tests) keeps its own
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    """SQLite: foreign keys on; we issue BEGIN ourselves (see ``_sqlite_begin``)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    """SQLite: the write lock up front, or a deferred transaction for a read."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if _reads_only(conn) else "BEGIN IMMEDIATE")


def _reads_only(conn: Any) -> bool:
    option = conn.get_execution_options().get("read_only")
    if option is not None:
        return bool(option)
    return read_request()


@event.listens_for(Pool, "checkout")
def _still_connected(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A PostgreSQL connection the server has closed is replaced before it is used."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):  # an idle connection with something to read: the server hung up
        raise DisconnectionError("the server closed the connection")
