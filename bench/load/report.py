"""Measurements: latencies and outcomes per kind of request, and the table printed at the end."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.refused: Counter[tuple[str, str]] = Counter()
        self.errors: Counter[str] = Counter()
        self.unavailable: Counter[str] = Counter()  # 503s inside an outage window (--chaos)
        self.details: list[str] = []

    def record(self, kind: str, seconds: float, outcome: str, reason: str | None = None) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if outcome == "refused":
                self.refused[(kind, reason or "?")] += 1
            elif outcome == "error":
                self.errors[kind] += 1
            elif outcome == "unavailable":
                self.unavailable[kind] += 1

    def detail(self, kind: str, text: str) -> None:
        with self.lock:
            if len(self.details) < 40:
                self.details.append(f"{time.strftime('%H:%M:%S')} [{kind}] {text}")

    def error(self, kind: str, text: str) -> None:
        """An error outside a request (an export that never finished, a generator fault)."""
        with self.lock:
            self.errors[kind] += 1
        self.detail(kind, text)


def report(stats: Stats, seconds: float) -> int:
    rows = []
    everything: list[float] = []
    for kind, values in stats.latency.items():
        values.sort()
        everything.extend(values)
        refused = sum(n for (k, _), n in stats.refused.items() if k == kind)
        unavailable = stats.unavailable.get(kind, 0)
        rows.append((kind, values, refused, unavailable, stats.errors.get(kind, 0)))
    everything.sort()
    rows.sort(key=lambda r: -len(r[1]))
    chaos = bool(stats.unavailable)
    print(f"\n{'kind':<52}{'requests':>9}{'409':>7}", end="")
    print(f"{'503':>7}" if chaos else "", end="")
    print(f"{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")

    def line(name: str, values: list[float], refused: int, unavailable: int, errors: int) -> None:
        p = [percentile(values, q) * 1000 for q in (50, 95, 99)]
        print(f"{name:<52}{len(values):>9,}{refused:>7,}", end="")
        print(f"{unavailable:>7,}" if chaos else "", end="")
        print(f"{errors:>7,}{p[0]:>9.1f}{p[1]:>9.1f}{p[2]:>9.1f}")

    for kind, values, refused, unavailable, errors in rows:
        line(kind, values, refused, unavailable, errors)
    line(
        "all",
        everything,
        sum(stats.refused.values()),
        sum(stats.unavailable.values()),
        sum(stats.errors.values()),
    )
    print(
        f"\nthroughput: {len(everything) / seconds:.1f} requests/s ({len(everything):,} in ", end=""
    )
    print(f"{seconds:.1f} s)")
    reasons = Counter()
    for (_, reason), n in stats.refused.items():
        reasons[reason] += n
    print("409 refusals (expected): " + (", ".join(f"{r} {n:,}" for r, n in reasons.most_common())))
    return len(everything)
