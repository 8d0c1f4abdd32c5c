"""llmstack's per-client request rate, counted once for all LiteLLM workers of the container.

Shipped into the LiteLLM container next to the auth hook, which loads it; this file is data to
the Pulumi program. Without Redis, LiteLLM's own limiter counts in each worker process, so with N
workers a client could make N times its `rpmLimit`. Here the workers share one SQLite file (in the
container's /tmp) and a sliding one-minute window: the previous minute's count, weighted by how
much of that minute the window still covers, plus this minute's. The estimate spreads the previous
minute's requests evenly, so it is strict for tiny limits: with a limit of 1 the next request may
wait up to two minutes. Counting is by client name, so a client's old and new key share one budget
during a rotation.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading

RATES_FILE_ENV = "LLMSTACK_RATES_FILE"
WINDOW_SECONDS = 60


class SharedRate:
    """Requests per minute per client, in a file every worker of the container opens."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Autocommit mode: transactions are begun explicitly, immediately taking the write lock.
        self._db = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Counts are worth nothing after a crash of the container; no need to wait for the disk.
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS hits (client TEXT NOT NULL, minute INTEGER NOT NULL, "
            "count INTEGER NOT NULL, PRIMARY KEY (client, minute))"
        )
        self._lock = threading.Lock()

    def admit(self, client: str, limit: int, now: float) -> int:
        """0 if the request may go ahead (it is then counted), else whole seconds until one may."""
        minute, elapsed = divmod(now, WINDOW_SECONDS)
        covered = 1 - elapsed / WINDOW_SECONDS
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT minute, count FROM hits WHERE client = ? AND minute >= ?", (client, minute - 1)
                ).fetchall()
                counts = {int(row_minute): int(count) for row_minute, count in rows}
                previous, current = counts.get(int(minute) - 1, 0), counts.get(int(minute), 0)
                if previous * covered + current + 1 > limit:
                    self._db.execute("ROLLBACK")
                    return _wait(previous, current, limit, elapsed)
                self._db.execute(
                    "INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT (client, minute) DO UPDATE SET count = count + 1",
                    (client, int(minute)),
                )
                self._db.execute("DELETE FROM hits WHERE minute < ?", (int(minute) - 1,))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return 0


def _wait(previous: int, current: int, limit: int, elapsed: float) -> int:
    """Seconds until `previous * covered + current + 1 <= limit` holds again (limit >= 1)."""
    if current + 1 > limit:
        # Not in this minute: in the next one, this minute's count is the weighted one.
        seconds = WINDOW_SECONDS - elapsed + WINDOW_SECONDS * (1 - (limit - 1) / current)
    else:
        seconds = WINDOW_SECONDS * (1 - (limit - 1 - current) / previous) - elapsed
    return max(1, math.ceil(seconds))
