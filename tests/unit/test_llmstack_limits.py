"""The per-client request rate the LiteLLM workers share (components/shipped/litellm/llmstack_limits.py).

Loaded by path, as the auth hook loads it in the container. Several `SharedRate`s on one file
stand for several workers; the concurrency test runs real processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import load_shipped

MINUTE_START = 1_800_000_000.0  # a whole minute: divisible by 60


def load_limits() -> ModuleType:
    return load_shipped("llmstack_limits")


limits = load_limits()


@pytest.fixture
def rates_file(tmp_path: Path) -> str:
    return str(tmp_path / "rates" / "rates.sqlite3")


def test_a_client_gets_its_limit_per_minute_across_workers(rates_file: str) -> None:
    workers = [limits.SharedRate(rates_file) for _ in range(3)]
    admitted = [workers[i % 3].admit("editor", 5, MINUTE_START + i) for i in range(8)]
    assert admitted[:5] == [0] * 5
    assert all(wait > 0 for wait in admitted[5:])


def test_clients_are_counted_apart(rates_file: str) -> None:
    rate = limits.SharedRate(rates_file)
    assert [rate.admit("editor", 1, MINUTE_START) for _ in range(2)][1] > 0
    assert rate.admit("indexer", 1, MINUTE_START) == 0


def test_the_window_slides_over_the_previous_minute(rates_file: str) -> None:
    rate = limits.SharedRate(rates_file)
    for second in range(10):
        assert rate.admit("editor", 10, MINUTE_START + second) == 0
    assert rate.admit("editor", 10, MINUTE_START + 59) > 0
    # 30 s into the next minute, half of the previous minute's 10 still counts: 5 more fit.
    later = [rate.admit("editor", 10, MINUTE_START + 90) for _ in range(6)]
    assert later == [0, 0, 0, 0, 0, later[5]]
    assert later[5] > 0


def test_retry_after_is_when_a_request_fits_again(rates_file: str) -> None:
    rate = limits.SharedRate(rates_file)
    for second in range(4):
        assert rate.admit("editor", 4, MINUTE_START + second) == 0
    wait = rate.admit("editor", 4, MINUTE_START + 10)
    assert 1 <= wait <= 120
    assert rate.admit("editor", 4, MINUTE_START + 10 + wait - 1) > 0
    assert rate.admit("editor", 4, MINUTE_START + 10 + wait) == 0


def test_a_clock_set_back_neither_frees_nor_blocks_a_client_later(rates_file: str) -> None:
    rate = limits.SharedRate(rates_file)
    ahead = MINUTE_START + 600
    assert [rate.admit("editor", 2, ahead) for _ in range(3)][2] > 0
    # The clock is set back ten minutes: the budget is the present minute's, and it is spent here.
    assert [rate.admit("editor", 2, MINUTE_START) for _ in range(3)][2] > 0
    # Back at the later time, the count from before the step no longer stands.
    assert rate.admit("editor", 2, ahead) == 0


def test_a_worker_a_moment_behind_keeps_the_next_minutes_count(rates_file: str) -> None:
    ahead, behind = limits.SharedRate(rates_file), limits.SharedRate(rates_file)
    assert ahead.admit("editor", 2, MINUTE_START + 60) == 0
    # Read the clock just before the minute turned, counted after the request above.
    assert behind.admit("editor", 2, MINUTE_START + 59.9) == 0
    assert ahead.admit("editor", 2, MINUTE_START + 60.1) > 0


def test_an_unreadable_file_is_replaced_and_counting_goes_on(rates_file: str, caplog: pytest.LogCaptureFixture) -> None:
    Path(rates_file).parent.mkdir()
    Path(rates_file).write_bytes(b"not a database " * 512)
    rate = limits.SharedRate(rates_file)
    assert [rate.admit("editor", 2, MINUTE_START) for _ in range(3)][2] > 0
    assert "replaced, it was unreadable" in caplog.text


def test_an_unusable_file_lets_requests_through_uncounted_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "rates"
    blocker.write_text("a file where the directory should be")
    path = str(blocker / "rates.sqlite3")
    rate = limits.SharedRate(path)
    assert [rate.admit("editor", 1, MINUTE_START) for _ in range(3)] == [0, 0, 0]
    assert caplog.text.count(f"rate counter {path} unusable, request admitted uncounted") == 3
    blocker.unlink()  # repaired: the next request opens the file and counts again
    assert rate.admit("editor", 1, MINUTE_START) == 0
    assert rate.admit("editor", 1, MINUTE_START) > 0


@pytest.mark.parametrize("held", ["set-up lock", "write lock"])
def test_a_lock_held_elsewhere_stalls_a_worker_only_briefly(
    held: str, rates_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    # admit() runs on the worker's event loop: every request of that worker waits with it.
    limits.SharedRate(rates_file).admit("editor", 1, MINUTE_START)  # the file exists and is set up
    # The pool first: should the wait not end, leaving the block releases both locks before it joins.
    with (
        ThreadPoolExecutor(1) as pool,
        open(rates_file + ".lock", "a") as lock,
        contextlib.closing(sqlite3.connect(rates_file)) as other,
    ):
        if held == "set-up lock":
            fcntl.flock(lock, fcntl.LOCK_EX)
        else:
            other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        waited = pool.submit(limits.SharedRate(rates_file).admit, "editor", 1, MINUTE_START + 1)
        assert waited.result(timeout=limits.LOCK_TIMEOUT_SECONDS + 5) == 0, "admitted uncounted"
        assert time.monotonic() - started < limits.LOCK_TIMEOUT_SECONDS + 1
        if held == "write lock":
            other.execute("ROLLBACK")
    assert "unusable, request admitted uncounted" in caplog.text


PROCESSES, ROUNDS, ATTEMPTS, LIMIT = 4, 40, 150, 400


def _hammer(paths: list[str], start: Any, results: Any) -> None:  # pragma: no cover - runs in a child
    shipped = load_limits()
    for path in paths:
        start.wait()
        # Each round on a new file: the workers create and set it up at the same time, too.
        rate = shipped.SharedRate(path)
        results.put((path, sum(rate.admit("editor", LIMIT, MINUTE_START + 1) == 0 for _ in range(ATTEMPTS))))


def test_workers_in_separate_processes_admit_the_limit_exactly(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results, start = context.Queue(), context.Barrier(PROCESSES)
    paths = [str(tmp_path / f"round-{round_}" / "rates.sqlite3") for round_ in range(ROUNDS)]
    processes = [context.Process(target=_hammer, args=(paths, start, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    admitted = dict.fromkeys(paths, 0)
    for _ in range(PROCESSES * ROUNDS):
        path, count = results.get(timeout=5)
        admitted[path] += count
    assert admitted == dict.fromkeys(paths, LIMIT)
