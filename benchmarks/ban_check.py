"""Benchmark: what the brute-force ban check adds to a request (components/shipped/litellm/llmstack_bans.py).

The auth hook asks the shared ban list about the client's address before anything else, on every
request; that call is all bans add to a request that authenticates. Measured in-process, on the
module as the container loads it, against the same call with bans off (`banMaxRetry 0`: no file
is touched) in the same run, calls taking turns. The file is the worst that stays plausible: 10,000
banned addresses and 10,000 counted failures. Also: what counting a failure costs (only a request
that failed authentication pays it). Target: the check adds <= 0.5 ms, p50.
"""

from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import load_shipped

CALLS = 20_000
FILLER = 10_000


def _timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _fill(bans: Any, path: str, now: float) -> None:
    """FILLER bans and FILLER pending failures, through the module's own writes."""
    banning = bans.BanList(path, bans.BanPolicy(max_retry=1, find_seconds=600, ban_seconds=3600))
    counting = bans.BanList(path, bans.BanPolicy(max_retry=FILLER + 1, find_seconds=600, ban_seconds=3600))
    for n in range(FILLER):
        banning.failed(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", "api_key", now)
        counting.failed(f"10.200.{n // 256 % 256}.{n % 256}", "api_key", now)


def main() -> None:
    """Print p50/p95 of the check with bans on and off, and of counting a failure."""
    bans: Any = load_shipped("llmstack_bans")
    logging.getLogger("llmstack.bans").disabled = True  # 10,000 bans, each logged
    bans.SWEEP_SECONDS = 3600  # a sweep runs every few seconds, not every call: leave it out of the loop
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "bans.sqlite3")
        now = time.time()
        _fill(bans, path, now)
        on = bans.BanList(path, bans.BanPolicy(max_retry=3, find_seconds=600, ban_seconds=3600))
        off = bans.BanList(path, bans.BanPolicy(max_retry=0, find_seconds=600, ban_seconds=3600))
        on.banned("203.0.113.7", now)  # opens the file: once per worker
        timings: dict[str, list[float]] = {"on": [], "off": []}
        for _ in range(CALLS):
            timings["on"].append(_timed(lambda: on.banned("203.0.113.7", now)))
            timings["off"].append(_timed(lambda: off.banned("203.0.113.7", now)))
        counting = bans.BanList(path, bans.BanPolicy(max_retry=1_000_000, find_seconds=600, ban_seconds=3600))
        failures = [_timed(lambda: counting.failed("203.0.113.9", "api_key", now)) for _ in range(1000)]
    for name, values in {**timings, "count a failure": failures}.items():
        values.sort()
        p50, p95 = statistics.median(values), values[int(len(values) * 0.95)]
        print(f"{name:>16}: p50 {p50 * 1e6:7.1f} us, p95 {p95 * 1e6:7.1f} us")
    added = statistics.median(timings["on"]) - statistics.median(timings["off"])
    print(f"the ban check adds, p50: {added * 1e3:.3f} ms (target <= 0.5 ms)")


if __name__ == "__main__":
    main()
