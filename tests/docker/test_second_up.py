"""A second `pulumi up` of an unchanged program finds nothing to change (issue #23, items 1-3).

The applier reads each container back as the docker provider's Read does (capabilities as the
engine stores what the Go client sent, memory swap as the engine set it, healthcheck durations
as Go formats them) and compares with what the program declares. The real-engine tier's
`pulumi up --expect-no-changes` proves the same with the real provider.
"""

from __future__ import annotations

from tests.docker.conftest import Stack


def test_every_container_reads_back_as_declared(dev: Stack) -> None:
    assert dev.applier.drift(dev.run) == {}


def test_swap_is_pinned_to_the_memory_limit_on_the_engine(dev: Stack) -> None:
    # Left unset, the engine sets twice the memory: an update on every `up`, and a refused raise.
    for name in dev.serving():
        host = dev.applier.inspect(name)["HostConfig"]
        assert host["MemorySwap"] in (host["Memory"], -1), name


def test_nginx_stops_with_sigquit_and_the_proxies_get_a_grace_period(dev: Stack) -> None:
    assert dev.applier.inspect("edge-container")["Config"]["StopSignal"] == "SIGQUIT"
    for name in dev.serving():
        assert dev.inputs(name)["destroyGraceSeconds"] > 0, name
