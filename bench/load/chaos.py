"""``--chaos``: outages during the load, and the windows in which a 503 is an honest answer.

On a schedule (every ``every`` seconds, in turn) the chaos thread

- SIGKILLs the export worker and starts a new one at once (timed just after the auditor asked for
  a statement, so that the worker dies holding it, or before it claimed it);
- kills the run's private ``redis-server`` (SIGKILL) and starts it again on the same port after
  ``REDIS_DOWN`` seconds (nothing was saved: the queue comes back empty);
- terminates every PostgreSQL backend of the scratch database (``pg_terminate_backend``, from a
  connection to another database, so nothing but this run's connections is touched).

Each outage is a window (start before the blow, end once the dependency answers again). A 503
with ``Retry-After`` is accepted only when the request overlapped a window of the dependency its
message names (``Redis``/``queue`` or ``database``), the window's end plus ``GRACE``; any other
503, and a 503 without ``Retry-After``, is an error. A worker's death opens no window for 503s:
the service does not need the worker to answer.

The supervisor plays the process manager of a deployment: a worker that exits by itself (it
cannot register with Redis while Redis is down) is started again after a second, and counted.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load.config import BASE_URL, BIN, HOST, ROOT

GRACE = 2.0  # seconds after a window's end in which a 503 still counts as the outage's
REDIS_DOWN = 4.0  # seconds Redis stays down
DEPENDENCIES = ("redis", "database")


def stamp() -> str:
    return dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]


@dataclass
class Window:
    kind: str  # worker, redis or database
    start: float  # time.monotonic()
    end: float | None = None
    note: str = ""
    answers_503: int = 0


@dataclass
class Outages:
    """The outage windows of the run, and the judgement of a 503 against them."""

    t0: float
    windows: list[Window] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, kind: str, note: str = "") -> Window:
        w = Window(kind, time.monotonic(), note=note)
        with self.lock:
            self.windows.append(w)
        return w

    def close(self, w: Window) -> None:
        with self.lock:
            w.end = time.monotonic()

    def accept_503(self, dependency: str | None, sent: float, answered: float) -> Window | None:
        """The window of ``dependency`` (None: either) that the request overlapped, if any."""
        kinds = DEPENDENCIES if dependency is None else (dependency,)
        with self.lock:
            for w in self.windows:
                end = (w.end if w.end is not None else answered) + GRACE
                if w.kind in kinds and w.start <= answered and sent <= end:
                    w.answers_503 += 1
                    return w
        return None

    def rel(self, t: float) -> float:
        return t - self.t0


def dependency_of(message: str) -> str | None:
    """The dependency a 503's message names (grants/http/errors.py's UNAVAILABLE), else None."""
    text = message.lower()
    if "redis" in text or "queue" in text:
        return "redis"
    if "database" in text:
        return "database"
    return None


class RedisServer:
    """A redis-server of this run only (free port, nothing on disk): killing it harms no one."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.url = f"redis://{HOST}:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", HOST),
                *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from redis import Redis

        client = Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except Exception:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Worker:
    """The export worker under a supervisor: restarted when it exits by itself."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.exits: Counter[int] = Counter()  # exits by itself, by exit code
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._supervise, daemon=True)

    def start(self) -> subprocess.Popen:
        with self.lock:
            with open(self.log, "ab") as out:
                self.process = subprocess.Popen(
                    [str(BIN / "flask"), "--app", "wsgi", "exports", "worker"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            return self.process

    def supervise(self) -> None:
        self.thread.start()

    def _supervise(self) -> None:
        while not self.stopped.wait(0.5):
            with self.lock:
                proc = self.process
                code = proc.poll() if proc is not None else None
            if code is not None and not self.stopped.is_set():
                self.exits[code] += 1
                print(f"  {stamp()} worker {proc.pid} exited by itself ({code}); restarting in 1 s")
                time.sleep(1)
                if not self.stopped.is_set():
                    self.start()

    def sigkill_and_restart(self) -> tuple[int, int]:
        with self.lock:
            old = self.process
            assert old is not None
            os.kill(old.pid, signal.SIGKILL)
            old.wait(timeout=10)
        new = self.start()
        return old.pid, new.pid

    def stop(self) -> None:
        self.stopped.set()
        with self.lock:
            proc = self.process
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def terminate_backends(database: str) -> int:
    """``pg_terminate_backend`` on every backend of ``database`` (only that one); how many."""
    from sqlalchemy import create_engine, text

    engine = create_engine(BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
            return int(killed)
    finally:
        engine.dispose()


class Chaos(threading.Thread):
    """The schedule of blows: worker, Redis, database, in turn, every ``every`` seconds."""

    def __init__(
        self,
        outages: Outages,
        end: float,
        every: float,
        worker: Worker,
        redis: RedisServer,
        database: str,
        statement_requested: threading.Event,
        export_now: threading.Event,
        before_terminate: Callable[[], None],
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.outages, self.end, self.every = outages, end, every
        self.worker, self.redis, self.database = worker, redis, database
        self.statement_requested, self.export_now = statement_requested, export_now
        self.before_terminate = before_terminate
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []

    def say(self, text: str) -> None:
        print(f"  {stamp()} +{self.outages.rel(time.monotonic()):5.1f} s  {text}", flush=True)

    def run(self) -> None:
        blows = (self.kill_worker, self.kill_redis, self.terminate_database)
        n = 0
        next_at = self.outages.t0 + min(6.0, self.every)
        while True:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() > self.end - REDIS_DOWN - GRACE:
                return
            try:
                blows[n % len(blows)]()
            except Exception as exc:  # the harness's own failure: reported, the run goes on
                self.failures.append(f"{blows[n % len(blows)].__name__}: {exc!r}")
                self.say(f"FAILED {exc!r}")
            n += 1
            next_at += self.every

    def kill_worker(self) -> None:
        self.statement_requested.clear()
        self.export_now.set()  # ask the auditor for a statement, and kill the worker holding it
        timely = self.statement_requested.wait(timeout=5)
        time.sleep(0.3)
        w = self.outages.open("worker")
        old, new = self.worker.sigkill_and_restart()
        self.outages.close(w)
        w.note = f"pid {old} SIGKILLed, {new} started" + (
            ", 0.3 s after a statement was requested" if timely else ""
        )
        self.counts["worker"] += 1
        self.say(f"worker: {w.note}")

    def kill_redis(self) -> None:
        w = self.outages.open("redis")
        self.redis.kill()
        self.say(f"redis: pid killed (SIGKILL); back in {REDIS_DOWN:.0f} s")
        self.export_now.set()  # a statement requested while Redis is down
        time.sleep(REDIS_DOWN)
        self.redis.start()
        self.outages.close(w)
        w.note = f"down {w.end - w.start:.1f} s"  # type: ignore[operator]
        self.counts["redis"] += 1
        self.say(f"redis: up again (pid {self.redis.process.pid}), {w.note}")  # type: ignore[union-attr]

    def terminate_database(self) -> None:
        self.before_terminate()
        w = self.outages.open("database")
        killed = terminate_backends(self.database)
        self.outages.close(w)
        w.note = f"{killed} backends terminated"
        self.counts["database"] += 1
        self.say(f"database: pg_terminate_backend on {killed} backends of {self.database}")


def print_windows(outages: Outages) -> None:
    print("\noutage windows (seconds since the load started; a 503 counts up to +2 s after):")
    for w in outages.windows:
        end = outages.rel(w.end) if w.end is not None else float("nan")
        print(
            f"  {w.kind:<9}{outages.rel(w.start):7.1f} → {end:7.1f}   "
            f"503s {w.answers_503:>4}   {w.note}"
        )
