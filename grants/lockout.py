"""Sign-in protection: 10 failed attempts for an account within 15 minutes lock it for 5.

Counted in Redis when ``REDIS_URL`` is set, so that the count holds across workers and hosts;
otherwise in this process (the embedded default runs one process). The clock is injectable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from flask import current_app

from grants.errors import TooManyAttempts
from grants.queue import redis_connection

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 5 * 60


def _clock() -> float:
    return float(current_app.config.get("CLOCK", time.time)())


class Store(Protocol):
    def locked_until(self, account: str) -> float: ...
    def fail(self, account: str, now: float) -> int: ...
    def lock(self, account: str, until: float) -> None: ...
    def reset(self, account: str) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._locks: dict[str, float] = {}
        self._mutex = threading.Lock()

    def locked_until(self, account: str) -> float:
        return self._locks.get(account, 0.0)

    def fail(self, account: str, now: float) -> int:
        with self._mutex:
            recent = [t for t in self._failures.get(account, []) if t > now - WINDOW_SECONDS]
            recent.append(now)
            self._failures[account] = recent
            return len(recent)

    def lock(self, account: str, until: float) -> None:
        with self._mutex:
            self._locks[account] = until
            self._failures.pop(account, None)

    def reset(self, account: str) -> None:
        with self._mutex:
            self._failures.pop(account, None)
            self._locks.pop(account, None)


class RedisStore:
    def __init__(self, redis: Any, prefix: str = "pearl:signin") -> None:
        self.redis = redis
        self.prefix = prefix

    def _keys(self, account: str) -> tuple[str, str]:
        return f"{self.prefix}:fail:{account}", f"{self.prefix}:lock:{account}"

    def locked_until(self, account: str) -> float:
        value = self.redis.get(self._keys(account)[1])
        return float(value) if value else 0.0

    def fail(self, account: str, now: float) -> int:
        failures, _ = self._keys(account)
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(failures, "-inf", now - WINDOW_SECONDS)
        pipe.zadd(failures, {f"{now:.6f}:{time.perf_counter_ns()}": now})
        pipe.zcard(failures)
        pipe.expire(failures, WINDOW_SECONDS + 60)
        return int(pipe.execute()[2])

    def lock(self, account: str, until: float) -> None:
        failures, lock = self._keys(account)
        pipe = self.redis.pipeline()
        pipe.set(lock, f"{until:.6f}", ex=LOCK_SECONDS + 60)
        pipe.delete(failures)
        pipe.execute()

    def reset(self, account: str) -> None:
        self.redis.delete(*self._keys(account))


def store() -> Store:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    existing = app.extensions.get("signin_lockout")
    if existing is None:
        existing = RedisStore(redis_connection()) if app.config["REDIS_URL"] else MemoryStore()
        app.extensions["signin_lockout"] = existing
    return existing


def guard(account: str, attempt: Callable[[], bool]) -> bool:
    """Run a sign-in ``attempt`` for ``account`` unless it is locked; count its failures.

    Returns the attempt's result; raises 429 while the account is locked.
    """
    account = account.strip().lower()
    now = _clock()
    s = store()
    if s.locked_until(account) > now:
        raise TooManyAttempts()
    ok = attempt()
    if ok:
        s.reset(account)
        return True
    if s.fail(account, now) >= MAX_FAILURES:
        s.lock(account, now + LOCK_SECONDS)
    return False
