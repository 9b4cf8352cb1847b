"""The Redis connection used for job queues (and counters), when ``REDIS_URL`` is set."""

from __future__ import annotations

from flask import current_app
from redis import Redis


def redis_connection() -> Redis:
    """One client (with its connection pool) per app, closed with the app's resources."""
    client = current_app.extensions.get("redis")
    if client is None:
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5)
        current_app.extensions["redis"] = client
    return client


def redis_ok() -> bool:
    try:
        return bool(redis_connection().ping())
    except Exception:  # any failure of the connection means the queue is down
        return False


def close_redis(app: object) -> None:
    client = app.extensions.pop("redis", None)  # type: ignore[attr-defined]
    if client is not None:
        client.close()
