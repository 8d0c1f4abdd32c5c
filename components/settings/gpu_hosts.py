"""Parsing the `gpuHosts` map and `gatewayAddress`: the GPU pool, validated field by field."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from components.settings.model import GpuHost, GpuPool, GpuRequest, ModelSpec
from components.settings.rules import RawConfig

GPU_SYNTAX = "none, all, or comma-separated device indexes or GPU-… UUIDs"
_HOST_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
_ENGINE_URL = re.compile(r"^(ssh|tcp)://[^\s/@]+(@[^\s/]+)?(:[0-9]{1,5})?/?$")
_FIELDS = ("dockerHost", "address", "gpus", "models", "parallel")
_MAX_PARALLEL = 64


def gpu_request(value: str) -> GpuRequest | None:
    """`none`, `all` or a device list as a `GpuRequest`; None when `value` is none of them."""
    if value in ("none", "all"):
        return GpuRequest(value)
    devices = tuple(part.strip() for part in value.split(","))
    if value and all(_is_gpu_device(d) for d in devices):
        return GpuRequest("device=" + ",".join(devices))
    return None


def _is_gpu_device(device: str) -> bool:
    if device.isdigit():
        return True
    suffix = device.removeprefix("GPU-")
    return suffix != device and bool(suffix) and all(c in "0123456789abcdef-" for c in suffix)


def parse_gpu_hosts(raw: RawConfig, models: tuple[ModelSpec, ...]) -> GpuPool | None:
    """The pool, or None when `gpuHosts` is unset (the single-host stack); every bad field is reported."""
    text = raw.raw_value("gpuHosts")
    gateway_text = raw.text("gatewayAddress")
    if text is None:
        if gateway_text:
            raw.errors.add("gatewayAddress", gateway_text, "empty unless gpuHosts is set")
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not value:
        raw.errors.add("gpuHosts", text, "a non-empty map of host name to {" + ", ".join(_FIELDS) + "}")
        return None
    for key, field in (("gpus", "gpus"), ("ollamaNumParallel", "parallel")):
        if raw.raw_value(key) is not None:
            # Each host says its own; a stack-wide value would silently mean nothing.
            raw.errors.add(key, raw.text(key), f"unset when gpuHosts is set: give each host its own {field}")
    served = tuple(m.name for m in models)
    hosts = tuple(_host(raw, name, value[name], served) for name in sorted(value))
    _check_unique(raw, hosts)
    _check_every_model_served(raw, hosts, served)
    return GpuPool(hosts=hosts, gateway_address=_gateway_address(raw, gateway_text))


def _host(raw: RawConfig, name: str, spec: Any, served: tuple[str, ...]) -> GpuHost:
    key = f"gpuHosts.{name}"
    if not _HOST_NAME.match(name):
        raw.errors.add(key, name, "a host name of lowercase letters, digits and -, at most 30 characters")
    if not isinstance(spec, dict):
        raw.errors.add(key, json.dumps(spec), "a map with: " + ", ".join(_FIELDS))
        spec = {}
    for field in sorted(set(spec) - set(_FIELDS)):
        raw.errors.add(f"{key}.{field}", json.dumps(spec[field]), "one of the fields " + ", ".join(_FIELDS))
    return GpuHost(
        name=name,
        docker_host=_engine(raw, key, spec.get("dockerHost")),
        address=_address(raw, f"{key}.address", spec.get("address")),
        gpus=_gpus(raw, key, spec.get("gpus", "all")),
        models=_models(raw, key, spec.get("models"), served),
        parallel=_parallel(raw, key, spec.get("parallel", 1)),
    )


def _engine(raw: RawConfig, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _ENGINE_URL.match(value):
        raw.errors.add(
            f"{key}.dockerHost", json.dumps(value), "the host's Docker engine as ssh://user@host or tcp://host:port"
        )
        return ""
    return value


def _address(raw: RawConfig, key: str, value: Any) -> str:
    """A private unicast IP: where a host publishes (or is reached) must not be the Internet."""
    try:
        address = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    usable = (
        address is not None
        and address.is_private
        and not (address.is_loopback or address.is_unspecified or address.is_link_local or address.is_multicast)
    )
    if address is None or not usable:
        shown = value if isinstance(value, str) else json.dumps(value)
        raw.errors.add(key, shown, "a private IP address (10/8, 172.16/12, 192.168/16, fc00::/7), not loopback")
        return str(value)
    return str(address)


def _gpus(raw: RawConfig, key: str, value: Any) -> GpuRequest:
    request = gpu_request(value) if isinstance(value, str) else None
    if request is None:
        raw.errors.add(f"{key}.gpus", json.dumps(value), GPU_SYNTAX)
        return GpuRequest("none")
    return request


def _models(raw: RawConfig, key: str, value: Any, served: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return served
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raw.errors.add(f"{key}.models", json.dumps(value), "a non-empty list of served model names")
        return ()
    for model in value:
        if model not in served:
            raw.errors.add(f"{key}.models", model, "one of the served models: " + ", ".join(served))
    return tuple(m for m in dict.fromkeys(value) if m in served)


def _parallel(raw: RawConfig, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_PARALLEL:
        raw.errors.add(f"{key}.parallel", json.dumps(value), f"a whole number from 1 to {_MAX_PARALLEL}")
        return 1
    return value


def _check_unique(raw: RawConfig, hosts: tuple[GpuHost, ...]) -> None:
    """Two hosts on one address or one engine would be one host declared twice, fighting over its port."""
    for field, attribute in (("address", "address"), ("dockerHost", "docker_host")):
        owners: dict[str, str] = {}
        for host in hosts:
            value = getattr(host, attribute)
            if value and value in owners:
                raw.errors.add(
                    f"gpuHosts.{host.name}.{field}",
                    value,
                    f"a {field} no other host has (gpuHosts.{owners[value]} has it)",
                )
            owners.setdefault(value, host.name)


def _check_every_model_served(raw: RawConfig, hosts: tuple[GpuHost, ...], served: tuple[str, ...]) -> None:
    """A served model on no host would be listed to clients and fail every request."""
    carried = {m for host in hosts for m in host.models}
    for model in served:
        if model not in carried:
            raw.errors.add("gpuHosts", model, "every served model on at least one host's models list")


def _gateway_address(raw: RawConfig, value: str) -> str:
    if not value:
        raw.errors.add("gatewayAddress", "", "the gateway host's private IP address as the GPU hosts see it")
        return value
    return _address(raw, "gatewayAddress", value)
