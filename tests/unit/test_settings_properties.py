"""Property-based: generated bad values always get an error naming the key and the value."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.settings import parse_settings
from components.settings.rules import SettingsError

NO_SECRETS: frozenset[str] = frozenset()
# Printable text without the characters that make a value trivially valid or unreadable.
text = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20)


def assert_rejected(key: str, raw_value: str, shown: str | None = None) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings({key: raw_value}, stack="prop", secret_keys=NO_SECRETS)
    lines = [line for line in str(error.value).splitlines() if f"llmstack:{key} " in line]
    assert lines, f"no line names llmstack:{key}: {error.value}"
    assert any(repr(shown if shown is not None else raw_value.strip()) in line for line in lines)
    assert all("expected" in line for line in lines)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536)))
def test_ports_outside_the_range_are_rejected(port: int) -> None:
    assert_rejected("httpsPort", str(port))


@given(text.filter(lambda v: not v.lstrip("+-").isdigit()))
def test_non_numeric_ports_are_rejected(value: str) -> None:
    assert_rejected("httpsPort", value)


@given(text.filter(lambda v: v not in ("local", "lan", "tunnel")))
def test_unknown_exposure_modes_are_rejected(value: str) -> None:
    assert_rejected("exposure", value)


@given(text.filter(lambda v: v not in ("none", "all") and not all(p.strip().isdigit() for p in v.split(","))))
def test_gpu_requests_that_are_not_devices_are_rejected(value: str) -> None:
    if value.startswith("GPU-"):
        return  # a UUID-shaped request may be valid; covered by the example tests
    assert_rejected("gpus", value)


@given(st.ip_addresses().filter(lambda a: not a.is_loopback))
def test_non_loopback_addresses_are_rejected_in_local_mode(address: ipaddress.IPv4Address) -> None:
    assert_rejected("listenAddress", str(address))


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=31))
def test_networks_with_host_bits_are_rejected(address: ipaddress.IPv4Address, prefix: int) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if network.network_address == address:
        return  # no host bits set: a valid network
    assert_rejected("allowedCidrs", json.dumps([f"{address}/{prefix}"]), f"{address}/{prefix}")


@given(st.from_regex(r"\A[a-z]{1,8}(/[a-z]{1,8})?(:latest)?\Z"))
def test_images_without_a_pinned_tag_are_rejected(image: str) -> None:
    assert_rejected("ollamaImage", image)


@given(text.filter(lambda v: "=" not in v))
@settings(max_examples=50)
def test_model_entries_without_a_client_name_are_rejected(entry: str) -> None:
    assert_rejected("models", json.dumps([entry]), entry.strip())


@given(st.integers(min_value=1, max_value=65535), st.sampled_from(["127.0.0.1", "127.8.9.10", "::1"]))
def test_every_valid_local_endpoint_is_accepted(port: int, address: str) -> None:
    parsed = parse_settings({"httpsPort": str(port), "listenAddress": address}, stack="p", secret_keys=NO_SECRETS)
    assert parsed.https_port == port
    assert parsed.listen_address == address
