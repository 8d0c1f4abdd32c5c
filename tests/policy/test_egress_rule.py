"""The stack rule `publish-without-nat-out` (policy/egress.py): a publishing container and its networks."""

from __future__ import annotations

from typing import Any

import pytest

from policy.egress import MASQUERADE, NETWORK, StackResource, publishers_without_nat_out
from tests.policy.resources import CONTAINER, edge, long_running

NO_NAT = {MASQUERADE: "false"}


def network(name: str, **inputs: Any) -> StackResource:
    return StackResource(f"network-{name}", NETWORK, {"name": name, "driver": "bridge", **inputs})


def container(props: dict[str, Any], *networks: str) -> StackResource:
    attached = {"networksAdvanced": [{"name": name} for name in networks]} if networks else {}
    return StackResource(str(props["name"]), CONTAINER, {**props, **attached})


def test_an_edge_publishing_from_a_bridge_without_nat_passes() -> None:
    stack = [
        network("publish", internal=False, options=NO_NAT),
        network("gateway", internal=True),
        container(edge(), "publish", "gateway"),
    ]
    assert publishers_without_nat_out(stack) == []


@pytest.mark.parametrize("options", [None, {}, {MASQUERADE: "true"}], ids=["unset", "empty", "true"])
def test_an_edge_publishing_from_a_masquerading_bridge_fails_naming_it(options: dict[str, str] | None) -> None:
    stack = [network("publish", internal=False, options=options), container(edge(), "publish")]
    [(resource, message)] = publishers_without_nat_out(stack)
    assert resource == "llmstack-dev-nginx"
    assert "'publish'" in message
    assert MASQUERADE in message


def test_the_default_bridge_and_an_undeclared_network_fail() -> None:
    assert publishers_without_nat_out([container(edge())])[0][1].startswith("publishes a port from Docker's default")
    [(_, message)] = publishers_without_nat_out([container(edge(), "somebody-elses")])
    assert "does not declare" in message


def test_a_container_that_publishes_nothing_may_have_a_way_out() -> None:
    stack = [network("model-egress", internal=False), container(long_running(), "model-egress")]
    assert publishers_without_nat_out(stack) == []


@pytest.mark.parametrize(
    "props",
    [{}, {"ports": None, "networksAdvanced": 7.0}, {"ports": [{"ip": "127.0.0.1"}], "networksAdvanced": [None, 3.0]}],
    ids=["empty", "odd-types", "odd-entries"],
)
def test_odd_inputs_do_not_crash_it(props: dict[str, Any]) -> None:
    found = publishers_without_nat_out([StackResource("x", CONTAINER, props), network("n", options=7.0)])
    assert all(isinstance(message, str) and message for _, message in found)
