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

import contextlib
import fcntl
import logging
import math
import os
import sqlite3
import threading
import time

WINDOW_SECONDS = 60
LOCK_TIMEOUT_SECONDS = 1
"""How long a worker waits for another's write, or for another to set the file up; a count takes
microseconds, so this is a stall. The wait blocks the worker's event loop, hence the bound."""
_LOCK_POLL_SECONDS = 0.01

_log = logging.getLogger("llmstack.limits")


class SharedRate:
    """Requests per minute per client, in a file every worker of the container opens.

    The count protects Ollama's capacity; it is not what keeps a client out (the key is). So when
    the file cannot be used (an unwritable /tmp, a stalled disk, a lock held for longer than
    LOCK_TIMEOUT_SECONDS) the request goes ahead uncounted, it fails open, and the reason is logged
    as an error, instead of every limited client getting a 500. The file is opened again, and
    repaired if it is no database, on the next request.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def admit(self, client: str, limit: int, now: float) -> int:
        """0 if the request may go ahead (it is then counted), else whole seconds until one may."""
        with self._lock:
            try:
                if self._db is None:
                    self._db = _open(self._path)
                return _admit(self._db, client, limit, now)
            except (sqlite3.Error, OSError) as error:
                if self._db is not None:
                    self._db.close()
                self._db = None
                _log.error("llmstack: rate counter %s unusable, request admitted uncounted: %s", self._path, error)
                return 0


def _open(path: str) -> sqlite3.Connection:
    """The shared file, set up by one worker at a time (two switching it to WAL at once fail)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "a") as lock:
        _lock(lock.fileno(), path)
        try:
            return _connect(path)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise
            # Not a database (a crash with synchronous=OFF, say): counts are worth nothing; start over.
            _log.error("llmstack: rate counter %s replaced, it was unreadable: %s", path, error)
            for stale in (path, path + "-wal", path + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(stale)
            return _connect(path)


def _lock(descriptor: int, path: str) -> None:
    """Take the set-up lock, waiting at most LOCK_TIMEOUT_SECONDS (OSError: the request goes uncounted)."""
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise OSError(f"{path}.lock held by another worker for over {LOCK_TIMEOUT_SECONDS} s") from None
            time.sleep(_LOCK_POLL_SECONDS)


def _connect(path: str) -> sqlite3.Connection:
    # Autocommit mode: transactions are begun explicitly, immediately taking the write lock.
    db = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # Counts are worth nothing after a crash of the container; no need to wait for the disk.
        db.execute("PRAGMA synchronous=OFF")
        db.execute(
            "CREATE TABLE IF NOT EXISTS hits (client TEXT NOT NULL, minute INTEGER NOT NULL, "
            "count INTEGER NOT NULL, PRIMARY KEY (client, minute))"
        )
    except BaseException:
        db.close()
        raise
    return db


def _admit(db: sqlite3.Connection, client: str, limit: int, now: float) -> int:
    minute, elapsed = divmod(now, WINDOW_SECONDS)
    current_minute = int(minute)
    covered = 1 - elapsed / WINDOW_SECONDS
    db.execute("BEGIN IMMEDIATE")
    try:
        rows = db.execute(
            "SELECT minute, count FROM hits WHERE client = ? AND minute IN (?, ?)",
            (client, current_minute - 1, current_minute),
        ).fetchall()
        counts = {int(row_minute): int(count) for row_minute, count in rows}
        previous, current = counts.get(current_minute - 1, 0), counts.get(current_minute, 0)
        if previous * covered + current + 1 > limit:
            db.execute("ROLLBACK")
            return _wait(previous, current, limit, elapsed)
        db.execute(
            "INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT (client, minute) DO UPDATE SET count = count + 1",
            (client, current_minute),
        )
        # Minutes well ahead of now too: after the clock is set back they would count again later.
        # The next minute stays: a worker that read the clock just before it turned may get here
        # after another has already counted in it.
        db.execute("DELETE FROM hits WHERE minute < ? OR minute > ?", (current_minute - 1, current_minute + 1))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
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
