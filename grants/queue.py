"""The Redis connection used for job queues (and counters), when ``REDIS_URL`` is set."""

from __future__ import annotations

from flask import current_app
from redis import Redis


def redis_connection() -> Redis:
    return Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=5)


def redis_ok() -> bool:
    try:
        return bool(redis_connection().ping())
    except Exception:  # any failure of the connection means the queue is down
        return False
