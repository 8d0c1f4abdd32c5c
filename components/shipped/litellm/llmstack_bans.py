"""llmstack's brute-force bans (fail2ban's semantics): too many failed logins from one address bar it.

Shipped into the LiteLLM container next to the auth hook, which loads it; this file is data to the
Pulumi program. An address with `max_retry` failed authentications (a wrong or revoked API key, a
wrong basic-auth password that nginx reports) within `find_seconds` is refused for `ban_seconds`,
by the hook, before it looks at any key. The address is the one nginx sends in X-Real-IP: nginx
sets it from its own `$remote_addr` (after `real_ip` in tunnel mode), replacing whatever the client
sent, and nothing but nginx reaches LiteLLM.

Every worker of the container shares one SQLite file on a named volume, so a ban holds in every
worker and outlives a restart or a replacement of the container. When the file cannot be used the
check fails open (logged as an error): the keys still keep everyone out, and a broken disk must not
refuse every client. Each ban and unban is logged (the address, never a key); an unban is logged
by the first request a worker serves after the ban ended, since nothing runs between requests.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from components.shipped.litellm import llmstack_contract as contract
else:
    import llmstack_contract as contract

LOCK_TIMEOUT_SECONDS = 1
"""How long a worker waits for another's write; a write takes microseconds, so this is a stall."""
SWEEP_SECONDS = 5
"""How often a worker looks for bans that ended (to log and delete them), at most."""
_LOCK_POLL_SECONDS = 0.01

_log = contract.own_handler_logger("llmstack.bans")


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BanPolicy(NamedTuple):
    """fail2ban's three numbers, and the networks never banned.

    (Not a dataclass: loaded by path, this module is not in sys.modules, which dataclasses need.)
    """

    max_retry: int
    """Failures within `find_seconds` that ban an address; 0 turns bans off."""
    find_seconds: int
    """The window failures are counted in."""
    ban_seconds: int
    """How long a ban lasts."""
    exempt: tuple[Network, ...] = ()
    """Networks whose addresses are never banned (their failures are not counted)."""

    @classmethod
    def from_environment(cls, environ: dict[str, str] | os._Environ[str]) -> BanPolicy:
        """The policy the Pulumi program wrote into the container's environment."""
        exempt = environ.get(contract.BAN_EXEMPT_CIDRS_ENV, "")
        return cls(
            max_retry=int(environ.get(contract.BAN_MAX_RETRY_ENV, "0")),
            find_seconds=int(environ.get(contract.BAN_FIND_SECONDS_ENV, "600")),
            ban_seconds=int(environ.get(contract.BAN_SECONDS_ENV, "3600")),
            exempt=tuple(ipaddress.ip_network(cidr) for cidr in exempt.split(",") if cidr),
        )

    def covers(self, address: str) -> bool:
        """Whether `address` is subject to bans (a valid address outside the exempt networks)."""
        if self.max_retry <= 0:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return not any(ip in network for network in self.exempt)


class _Metrics:
    """Prometheus series, when prometheus_client is installed (it is in LiteLLM's image).

    No address and no key is ever a label: the per-address detail is in the log.
    """

    def __init__(self) -> None:
        self.failures: Any = None
        self.bans: Any = None
        self.banned: Any = None
        try:
            import prometheus_client
        except ImportError:
            return
        self.failures = _metric(
            prometheus_client.Counter, contract.AUTH_FAILURES_METRIC, "Failed authentications.", ["reason"]
        )
        self.bans = _metric(prometheus_client.Counter, contract.BANS_METRIC, "Addresses banned.", [])
        # `mostrecent`: with PROMETHEUS_MULTIPROC_DIR, the value the last writing worker saw in the file.
        self.banned = _metric(
            prometheus_client.Gauge,
            contract.BANNED_ADDRESSES_METRIC,
            "Addresses banned now (as of the last ban or unban).",
            [],
            multiprocess_mode="mostrecent",
        )


def _metric(kind: Callable[..., Any], name: str, documentation: str, labels: list[str], **extra: Any) -> Any:
    """The metric in the default registry, created once per process even if this module loads twice."""
    from prometheus_client import REGISTRY

    try:
        return kind(name, documentation, labels, **extra)
    except ValueError:  # already registered by an earlier load of this file in the same process
        # prometheus_client has no public lookup by name.
        return REGISTRY._names_to_collectors[name.removesuffix("_total")]  # noqa: SLF001


_METRICS = _Metrics()


class BanList:
    """Failed authentications and bans by address, in a file every worker of the container opens."""

    def __init__(self, path: str, policy: BanPolicy) -> None:
        self._path = path
        self.policy = policy
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._next_sweep = 0.0

    def banned(self, address: str, now: float) -> int:
        """Whole seconds the ban on `address` still lasts; 0 when it is not banned (or cannot be told)."""
        if not self.policy.covers(address):
            return 0
        row = self._use(lambda db: _ban_row(db, address, now, self._due(now)), None)
        return max(1, int(row - now + 0.999)) if row is not None and row > now else 0

    def failed(self, address: str, reason: str, now: float) -> int:
        """Count a failed authentication; the seconds of the ban it causes, else 0."""
        if _METRICS.failures is not None:
            _METRICS.failures.labels(reason=reason).inc()
        if not self.policy.covers(address):
            return 0
        until = self._use(lambda db: _record(db, address, now, self.policy), None)
        if until is None:
            return 0
        _log.warning(
            "llmstack: banned %s for %d s after %d failed authentications within %d s",
            address,
            self.policy.ban_seconds,
            self.policy.max_retry,
            self.policy.find_seconds,
            extra={"event": "ban", "address": address, "until": _iso(until), "reason": reason},
        )
        if _METRICS.bans is not None:
            _METRICS.bans.inc()
        self._use(lambda db: _count_gauge(db, now), None)
        return max(1, int(until - now + 0.999))

    def _due(self, now: float) -> bool:
        if now < self._next_sweep:
            return False
        self._next_sweep = now + SWEEP_SECONDS
        return True

    def _use(self, action: Callable[[sqlite3.Connection], Any], fallback: Any) -> Any:
        """`action` on the shared file; `fallback` (fail open) if the file cannot be used."""
        with self._lock:
            try:
                if self._db is None:
                    self._db = _open(self._path)
                return action(self._db)
            except (sqlite3.Error, OSError) as error:
                if self._db is not None:
                    self._db.close()
                self._db = None
                _log.error("llmstack: ban list %s unusable, request not checked for a ban: %s", self._path, error)
                return fallback


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _ban_row(db: sqlite3.Connection, address: str, now: float, sweep: bool) -> float | None:
    """The end of `address`'s ban (one indexed read); first, now and then, the unbans that are due."""
    row = db.execute("SELECT until FROM bans WHERE address = ?", (address,)).fetchone()
    if sweep or (row is not None and row[0] <= now):
        _sweep(db, now)
    return float(row[0]) if row is not None else None


def _sweep(db: sqlite3.Connection, now: float) -> None:
    """Delete and log the bans that ended: each once, by whichever worker deletes it."""
    with _transaction(db):
        ended = db.execute("SELECT address, until FROM bans WHERE until <= ?", (now,)).fetchall()
        db.execute("DELETE FROM bans WHERE until <= ?", (now,))
    for address, until in ended:
        _log.warning(
            "llmstack: unbanned %s, its ban ended",
            address,
            extra={"event": "unban", "address": address, "until": _iso(until)},
        )
    if ended:
        _count_gauge(db, now)


def _record(db: sqlite3.Connection, address: str, now: float, policy: BanPolicy) -> float | None:
    """Count a failure; the end of the ban it starts, or None."""
    with _transaction(db):
        if db.execute("SELECT 1 FROM bans WHERE address = ? AND until > ?", (address, now)).fetchone():
            return None  # banned already (a request that was under way when the ban began)
        # Failures older than the window count for nobody: this bounds the table.
        db.execute("DELETE FROM failures WHERE at <= ?", (now - policy.find_seconds,))
        db.execute("INSERT INTO failures (address, at) VALUES (?, ?)", (address, now))
        (count,) = db.execute("SELECT count(*) FROM failures WHERE address = ?", (address,)).fetchone()
        if count < policy.max_retry:
            return None
        until = now + policy.ban_seconds
        db.execute("DELETE FROM failures WHERE address = ?", (address,))
        db.execute("INSERT OR REPLACE INTO bans (address, until) VALUES (?, ?)", (address, until))
    return until


def _count_gauge(db: sqlite3.Connection, now: float) -> None:
    if _METRICS.banned is not None:
        (count,) = db.execute("SELECT count(*) FROM bans WHERE until > ?", (now,)).fetchone()
        _METRICS.banned.set(count)


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Any:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _open(path: str) -> sqlite3.Connection:
    """The shared file, set up by one worker at a time; a file that is no database is started afresh."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "a") as lock:
        _take(lock.fileno(), path)
        try:
            return _connect(path)
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError):
                raise
            # Bans are lost with it: better than no bans at all from now on.
            _log.error("llmstack: ban list %s replaced, it was unreadable (its bans are lifted): %s", path, error)
            _remove(path, path + "-wal", path + "-shm")
            return _connect(path)


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _take(descriptor: int, path: str) -> None:
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
    db = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # A ban must outlive a restart, not necessarily a power cut: NORMAL is durable across crashes in WAL.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS bans (address TEXT PRIMARY KEY, until REAL NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS failures (address TEXT NOT NULL, at REAL NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS failures_by_address ON failures (address)")
        db.execute("CREATE INDEX IF NOT EXISTS failures_by_time ON failures (at)")
        db.execute("CREATE INDEX IF NOT EXISTS bans_by_end ON bans (until)")
    except BaseException:
        db.close()
        raise
    return db


def lift(path: str, addresses: list[str], now: float) -> int:
    """End the bans on `addresses` now, by hand (docs/OPERATIONS.md); how many there were.

    The ban ends rather than vanishes, so a worker's next sweep logs the unban in the container's log.
    """
    db = _connect(path)
    try:
        with _transaction(db):
            lifted = 0
            for address in addresses:
                lifted += db.execute(
                    "UPDATE bans SET until = ? WHERE address = ? AND until > ?", (now, address, now)
                ).rowcount
                db.execute("DELETE FROM failures WHERE address = ?", (address,))
    finally:
        db.close()
    return lifted


def lift_all(path: str, now: float) -> int:
    """End every ban now and forget every counted failure (docs/OPERATIONS.md); how many bans there were."""
    db = _connect(path)
    try:
        with _transaction(db):
            lifted: int = db.execute("UPDATE bans SET until = ? WHERE until > ?", (now, now)).rowcount
            db.execute("DELETE FROM failures")
    finally:
        db.close()
    return lifted


def main(arguments: list[str]) -> int:
    """`python3 llmstack_bans.py list`, `… lift ADDRESS…` or `… lift --all`, run in the container (docker exec)."""
    path = os.environ[contract.BANS_FILE_ENV]
    if arguments[:1] == ["list"]:
        db = _connect(path)
        try:
            for address, until in db.execute("SELECT address, until FROM bans WHERE until > ?", (time.time(),)):
                print(f"{address}\tbanned until {_iso(until)}")
        finally:
            db.close()
        return 0
    if arguments == ["lift", "--all"]:
        print(f"lifted {lift_all(path, time.time())} ban(s)")
        return 0
    if arguments[:1] == ["lift"] and len(arguments) > 1:
        print(f"lifted {lift(path, arguments[1:], time.time())} ban(s)")
        return 0
    print("usage: llmstack_bans.py list | lift ADDRESS... | lift --all")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
