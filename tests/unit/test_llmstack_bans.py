"""The brute-force bans the LiteLLM workers share (components/shipped/litellm/llmstack_bans.py).

Loaded by path, as the auth hook loads it in the container. Several `BanList`s on one file stand
for several workers; the concurrency test runs real processes.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import prometheus_client
import pytest

from components.shipped.litellm import llmstack_contract as contract
from tests.support import load_shipped

NOW = 1_800_000_000.0
ATTACKER, NEIGHBOUR = "203.0.113.7", "203.0.113.8"


def load_bans() -> ModuleType:
    return load_shipped("llmstack_bans")


bans = load_bans()


def policy(**overrides: Any) -> Any:
    values: dict[str, Any] = {"max_retry": 3, "find_seconds": 600, "ban_seconds": 3600, **overrides}
    return bans.BanPolicy(**values)


@pytest.fixture
def bans_file(tmp_path: Path) -> str:
    return str(tmp_path / "bans" / "bans.sqlite3")


@pytest.fixture(autouse=True)
def ban_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Let caplog see the bans logger, which writes through its own handler, not the root's."""
    logger = logging.getLogger("llmstack.bans")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)


def test_max_retry_failures_ban_the_address_for_the_ban_time(bans_file: str) -> None:
    workers = [bans.BanList(bans_file, policy()) for _ in range(3)]
    # Two failures, each from another worker: no ban yet; the third bans.
    assert [workers[i].failed(ATTACKER, "api_key", NOW + i) for i in range(2)] == [0, 0]
    assert workers[0].banned(ATTACKER, NOW + 2) == 0
    assert workers[2].failed(ATTACKER, "api_key", NOW + 2) == 3600
    assert [worker.banned(ATTACKER, NOW + 3) for worker in workers] == [3599] * 3
    assert workers[1].banned(NEIGHBOUR, NOW + 3) == 0, "another address is unaffected"


def test_failures_outside_the_window_do_not_add_up(bans_file: str) -> None:
    ban_list = bans.BanList(bans_file, policy(find_seconds=60))
    assert ban_list.failed(ATTACKER, "api_key", NOW) == 0
    assert ban_list.failed(ATTACKER, "api_key", NOW + 30) == 0
    assert ban_list.failed(ATTACKER, "api_key", NOW + 61) == 0, "the first failure left the window"
    assert ban_list.failed(ATTACKER, "basic_auth", NOW + 62) == 3600, "any kind of failure counts"


def test_a_ban_ends_after_its_time_and_the_unban_is_logged_once(
    bans_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "llmstack.bans")
    first, second = bans.BanList(bans_file, policy(ban_seconds=10)), bans.BanList(bans_file, policy(ban_seconds=10))
    for second_ in range(3):
        first.failed(ATTACKER, "api_key", NOW + second_)
    assert first.banned(ATTACKER, NOW + 11.5) == 1
    assert second.banned(ATTACKER, NOW + 12) == 0
    assert first.banned(ATTACKER, NOW + 12) == 0
    events = [(r.__dict__["event"], r.__dict__["address"]) for r in caplog.records if "event" in r.__dict__]
    assert events == [("ban", ATTACKER), ("unban", ATTACKER)]
    # After the ban, counting starts again from nothing.
    assert first.failed(ATTACKER, "api_key", NOW + 13) == 0


def test_unbans_are_swept_without_the_address_coming_back(bans_file: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "llmstack.bans")
    ban_list = bans.BanList(bans_file, policy(max_retry=1, ban_seconds=10))
    ban_list.failed(ATTACKER, "api_key", NOW)
    assert ban_list.banned(NEIGHBOUR, NOW + 20) == 0  # any request, once SWEEP_SECONDS have passed
    assert [getattr(r, "event", None) for r in caplog.records][-1] == "unban"


def test_the_log_names_the_address_and_no_key(bans_file: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "llmstack.bans")
    ban_list = bans.BanList(bans_file, policy(max_retry=1))
    ban_list.failed(ATTACKER, "api_key", NOW)
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "ban"]
    assert ATTACKER in record.getMessage()
    assert record.levelname == "WARNING"
    assert record.until == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW + 3600))  # type: ignore[attr-defined]


def test_bans_are_logged_whatever_level_litellm_gives_the_root_logger(bans_file: str) -> None:
    # In the container LiteLLM's one JSON handler sits on the root logger at LITELLM_LOG's level
    # (ERROR, rendered): a ban must not depend on it.
    own = logging.getLogger("llmstack.bans").handlers[0]
    assert isinstance(own, logging.StreamHandler)
    written, root = io.StringIO(), logging.getLogger()
    previous, level = own.setStream(written), root.level
    root.setLevel(logging.ERROR)
    try:
        bans.BanList(bans_file, policy(max_retry=1)).failed(ATTACKER, "api_key", NOW)
    finally:
        own.setStream(previous)
        root.setLevel(level)
    assert f"banned {ATTACKER} for 3600 s" in written.getvalue()


@pytest.mark.parametrize("address", ["10.1.2.3", "fd00::7"])
def test_exempt_networks_are_neither_counted_nor_banned(bans_file: str, address: str) -> None:
    exempt = (ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("fd00::/8"))
    ban_list = bans.BanList(bans_file, policy(max_retry=1, exempt=exempt))
    assert ban_list.failed(address, "api_key", NOW) == 0
    assert ban_list.banned(address, NOW) == 0
    assert ban_list.failed("10.2.0.1", "api_key", NOW) == 3600, "the networks, not more"


@pytest.mark.parametrize("address", ["", "unknown", "203.0.113.7, 198.51.100.1"])
def test_what_is_no_address_is_never_banned(bans_file: str, address: str) -> None:
    ban_list = bans.BanList(bans_file, policy(max_retry=1))
    assert ban_list.failed(address, "api_key", NOW) == 0
    assert ban_list.banned(address, NOW) == 0
    assert not Path(bans_file).exists(), "not even opened"


def test_max_retry_zero_turns_bans_off(bans_file: str) -> None:
    ban_list = bans.BanList(bans_file, policy(max_retry=0))
    assert [ban_list.failed(ATTACKER, "api_key", NOW) for _ in range(10)] == [0] * 10
    assert not Path(bans_file).exists()


def test_the_policy_comes_from_the_environment_the_program_writes() -> None:
    environ = {
        contract.BAN_MAX_RETRY_ENV: "5",
        contract.BAN_FIND_SECONDS_ENV: "60",
        contract.BAN_SECONDS_ENV: "120",
        contract.BAN_EXEMPT_CIDRS_ENV: "10.0.0.0/8,fd00::/8",
    }
    read = bans.BanPolicy.from_environment(environ)
    assert (read.max_retry, read.find_seconds, read.ban_seconds) == (5, 60, 120)
    assert [str(n) for n in read.exempt] == ["10.0.0.0/8", "fd00::/8"]
    assert bans.BanPolicy.from_environment({}).max_retry == 0, "no policy written: no bans"


def test_a_ban_survives_a_new_process_opening_the_file(bans_file: str) -> None:
    bans.BanList(bans_file, policy(max_retry=1)).failed(ATTACKER, "api_key", NOW)
    reloaded = load_bans()  # a restarted container: new module, new connection, same volume
    assert reloaded.BanList(bans_file, policy(max_retry=1)).banned(ATTACKER, NOW + 60) == 3540


def test_an_unreadable_file_is_replaced_and_banning_goes_on(bans_file: str, caplog: pytest.LogCaptureFixture) -> None:
    Path(bans_file).parent.mkdir()
    Path(bans_file).write_bytes(b"not a database " * 512)
    ban_list = bans.BanList(bans_file, policy(max_retry=2))
    assert ban_list.failed(ATTACKER, "api_key", NOW) == 0
    assert ban_list.failed(ATTACKER, "api_key", NOW) == 3600
    assert "replaced, it was unreadable (its bans are lifted)" in caplog.text


def test_an_unusable_file_fails_open_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "bans"
    blocker.write_text("a file where the directory should be")
    path = str(blocker / "bans.sqlite3")
    ban_list = bans.BanList(path, policy(max_retry=1))
    assert ban_list.failed(ATTACKER, "api_key", NOW) == 0
    assert ban_list.banned(ATTACKER, NOW) == 0
    assert caplog.text.count(f"ban list {path} unusable") == 2
    blocker.unlink()  # repaired: the next request opens the file and bans again
    assert ban_list.failed(ATTACKER, "api_key", NOW) == 3600


def test_lifting_a_ban_by_hand_ends_it_and_the_workers_log_the_unban(
    bans_file: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "llmstack.bans")
    ban_list = bans.BanList(bans_file, policy(max_retry=1))
    ban_list.failed(ATTACKER, "api_key", NOW)
    ban_list.failed(NEIGHBOUR, "api_key", NOW)
    assert bans.lift(bans_file, [ATTACKER], NOW + 1) == 1
    assert ban_list.banned(ATTACKER, NOW + 2) == 0
    assert ban_list.banned(NEIGHBOUR, NOW + 2) > 0
    assert ("unban", ATTACKER) in [(getattr(r, "event", None), getattr(r, "address", None)) for r in caplog.records]


def test_the_command_line_lists_and_lifts(
    bans_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(contract.BANS_FILE_ENV, bans_file)
    bans.BanList(bans_file, policy(max_retry=1)).failed(ATTACKER, "api_key", time.time())
    assert bans.main(["list"]) == 0
    assert ATTACKER in capsys.readouterr().out
    assert bans.main(["lift", ATTACKER]) == 0
    assert capsys.readouterr().out == "lifted 1 ban(s)\n"
    assert bans.main(["list"]) == 0
    assert capsys.readouterr().out == ""


def test_lifting_every_ban_also_forgets_every_counted_failure(
    bans_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(contract.BANS_FILE_ENV, bans_file)
    ban_list = bans.BanList(bans_file, policy(max_retry=2))
    now = time.time()
    for address in (ATTACKER, ATTACKER, NEIGHBOUR):
        ban_list.failed(address, "api_key", now)
    assert bans.main(["lift", "--all"]) == 0
    assert capsys.readouterr().out == "lifted 1 ban(s)\n"
    assert ban_list.banned(ATTACKER, now + 1) == 0
    assert ban_list.failed(NEIGHBOUR, "api_key", now + 1) == 0, "its earlier failure was forgotten"


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_metrics_count_failures_and_bans_without_an_address(bans_file: str) -> None:
    failures = _sample(contract.AUTH_FAILURES_METRIC, {"reason": "basic_auth"})
    banned = _sample(contract.BANS_METRIC)
    ban_list = bans.BanList(bans_file, policy(max_retry=2))
    ban_list.failed(ATTACKER, "basic_auth", NOW)
    ban_list.failed(ATTACKER, "basic_auth", NOW)
    assert _sample(contract.AUTH_FAILURES_METRIC, {"reason": "basic_auth"}) == failures + 2
    assert _sample(contract.BANS_METRIC) == banned + 1
    assert _sample(contract.BANNED_ADDRESSES_METRIC) == 1
    exposition = prometheus_client.generate_latest().decode()
    assert ATTACKER not in exposition
    load_bans()  # a second load in one process (LiteLLM may import the hook twice) must not fail


PROCESSES, ROUNDS, ATTEMPTS = 4, 20, 30


def _hammer(paths: list[str], start: Any, results: Any) -> None:  # pragma: no cover - runs in a child
    shipped = load_shipped("llmstack_bans")
    for path in paths:
        start.wait()
        # Each round on a new file: the workers create and set it up at the same time, too.
        ban_list = shipped.BanList(path, shipped.BanPolicy(max_retry=50, find_seconds=600, ban_seconds=3600))
        bans_begun = sum(ban_list.failed(ATTACKER, "api_key", NOW + 1) > 0 for _ in range(ATTEMPTS))
        results.put((path, bans_begun))


def test_workers_in_separate_processes_ban_once_at_exactly_max_retry(tmp_path: Path) -> None:
    # 4 x 30 failures, max_retry 50: exactly one failure, the 50th, begins the ban; the rest see it.
    context = multiprocessing.get_context("spawn")
    results, start = context.Queue(), context.Barrier(PROCESSES)
    paths = [str(tmp_path / f"round-{round_}" / "bans.sqlite3") for round_ in range(ROUNDS)]
    processes = [context.Process(target=_hammer, args=(paths, start, results)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    begun = dict.fromkeys(paths, 0)
    for _ in range(PROCESSES * ROUNDS):
        path, count = results.get(timeout=5)
        begun[path] += count
    assert begun == dict.fromkeys(paths, 1)
    assert all(bans.BanList(path, policy()).banned(ATTACKER, NOW + 2) for path in paths)
    # The failures of the window went with the ban: nothing piles up.
    with contextlib.closing(sqlite3.connect(paths[0])) as db:
        assert db.execute("SELECT count(*) FROM failures").fetchone() == (0,)
