"""The per-client request rate the LiteLLM workers share (components/render/llmstack_limits.py).

Loaded by path, as the auth hook loads it in the container. Several `SharedRate`s on one file
stand for several workers; the concurrency test runs real processes.
"""

from __future__ import annotations

import multiprocessing
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


PROCESSES, ATTEMPTS, LIMIT = 4, 150, 400


def _hammer(path: str, start: Any, results: Any) -> None:  # pragma: no cover - runs in a child
    rate = load_limits().SharedRate(path)
    start.wait()
    results.put(sum(rate.admit("editor", LIMIT, MINUTE_START + 1) == 0 for _ in range(ATTEMPTS)))


def test_workers_in_separate_processes_admit_the_limit_exactly(rates_file: str) -> None:
    context = multiprocessing.get_context("spawn")
    results, start = context.Queue(), context.Barrier(PROCESSES)
    limits.SharedRate(rates_file)  # creates the file and table before the race
    processes = [context.Process(target=_hammer, args=(rates_file, start, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    assert sum(results.get(timeout=5) for _ in processes) == LIMIT
