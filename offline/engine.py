"""Runs the Pulumi program without the Pulumi engine (test double: Pulumi mocks).

`run_offline` executes a program under `pulumi.runtime.set_mocks` with a recording monitor that
keeps every registered resource with its inputs and options, and does the one thing the real
engine does that mocks skip: it marks the outputs a provider declares secret
(`additionalSecretOutputs`) as secret. Provider outputs come from `offline.standins`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format  # type: ignore[import-untyped]  # no stubs in the lock
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from offline.standins import STAND_IN_INVOKES, STAND_INS

PROJECT = "llmstack"
SECRET_SIG = rpc._special_secret_sig  # noqa: SLF001 - the wire marker for secret values
SIG_KEY = rpc._special_sig_key  # noqa: SLF001


@dataclass(frozen=True, kw_only=True)
class Registration:
    """One resource as the program registered it."""

    type: str
    """Type token, e.g. `docker:index/container:Container`."""
    name: str
    """Logical resource name."""
    parent: str | None
    """Logical name of the parent resource (None for children of the stack)."""
    inputs: dict[str, Any]
    """Inputs in wire (camelCase) form; secret values wrapped as on the wire."""
    options: dict[str, Any]
    """Resource options the engine would see: protect, retainOnDelete, …"""
    wire: dict[str, Any] = field(default_factory=dict)
    """Inputs exactly as the engine receives them: secrets marked value by value (in `inputs` the SDK's
    deserialiser marks a whole list or map secret when any element is)."""


class DuplicateResourceError(Exception):
    """Two resources registered under one URN, which the Pulumi engine refuses."""


class ProgramFailedError(Exception):
    """The program raised; `registered` says what it had registered by then."""

    def __init__(self, cause: BaseException, registered: list[Registration]) -> None:
        super().__init__(str(cause))
        self.registered = registered


@dataclass(frozen=True, kw_only=True)
class OfflineRun:
    """Everything a program run registered and exported."""

    resources: list[Registration]
    """Registered resources in registration order (the stack resource excluded)."""
    outputs: dict[str, Any]
    """Stack outputs, resolved."""
    secret_outputs: frozenset[str]
    """Names of stack outputs that are secret."""

    def of_type(self, type_token: str) -> list[Registration]:
        """Registered resources of one type."""
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        """The resource with this logical name."""
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


class _StandInProviders(mocks.Mocks):
    def __init__(self, seed: bytes | None) -> None:
        self._seed = seed

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = reveal(args.inputs)
        stand_in = STAND_INS.get(args.typ)
        outputs = stand_in(inputs, self._random_for(args.name, inputs)) if stand_in else dict(inputs)
        return f"{args.name}-id", outputs

    def _random_for(self, name: str, inputs: dict[str, Any]) -> random.Random:
        """Fresh system randomness; with a seed, values that stand for a resource kept in state.

        Seeded values depend on the resource's name and inputs: the same resource with the same
        inputs (keepers included) keeps its value across runs, as in a real stack's state, and a
        changed input gives a new value, as the provider's replacement does.
        """
        if self._seed is None:
            return random.SystemRandom()
        identity = self._seed + name.encode() + json.dumps(inputs, sort_keys=True, default=str).encode()
        return random.Random(hashlib.sha256(identity).digest())  # noqa: S311

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        stand_in = STAND_IN_INVOKES.get(args.token)
        if stand_in is None:
            raise NotImplementedError(f"no offline stand-in for the invoke {args.token}")
        arguments = reveal(args.args)
        return stand_in(arguments, self._random_for(args.token, arguments)), []


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, seed: bytes | None) -> None:
        super().__init__(_StandInProviders(seed))
        self.registrations: list[Registration] = []
        self._names_by_urn: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self._names_by_urn:
            # What the engine answers (after creating whatever came first): fail the render as it would.
            raise DuplicateResourceError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
        self._names_by_urn[urn] = request.name
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()  # type: ignore[no-untyped-call]  # as MockMonitor does before deserializing
        inputs = rpc.deserialize_properties(request.object)
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                parent=None
                if request.parent.endswith("::pulumi:pulumi:Stack::" + _stack_resource_name())
                else self._names_by_urn.get(request.parent),
                inputs=inputs,
                wire=json_format.MessageToDict(request.object),
                options={
                    "protect": request.protect,
                    "retainOnDelete": request.retainOnDelete,
                    "deleteBeforeReplace": request.deleteBeforeReplace,
                    "ignoreChanges": list(request.ignoreChanges),
                    "replaceOnChanges": list(request.replaceOnChanges),
                    "customTimeouts": {
                        key: value
                        for key in ("create", "update", "delete")
                        if (value := getattr(request.customTimeouts, key))
                    },
                    "dependsOn": sorted(self._names_by_urn.get(d, d) for d in request.dependencies),
                    "provider": request.provider or None,
                },
            )
        )
        id_, state = self.mocks.new_resource(
            mocks.MockResourceArgs(typ=request.type, name=request.name, inputs=inputs, custom=request.custom)
        )
        # What the engine does for `additional_secret_outputs`: mocks would leave these plain.
        for key in request.additionalSecretOutputs:
            if key in state:
                state[key] = rpc.wrap_rpc_secret(state[key])
        obj = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_ or "", state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_ or "", object=obj)


def _stack_resource_name() -> str:
    return f"{PROJECT}-{pulumi.get_stack()}"


def run_offline(
    program: Callable[[], None],
    *,
    stack: str,
    config: Mapping[str, str],
    secret_keys: frozenset[str] = frozenset(),
    seed: bytes | None = None,
) -> OfflineRun:
    """Run `program` as `pulumi up` would for `stack`, with `config` (namespaced keys → raw strings).

    Generated values are fresh unless `seed` is given (tests), which makes them a function of the
    seed and the resource name.
    """
    runtime_settings.ROOT.set(None)  # a fresh stack resource per run
    monitor = _RecordingMonitor(seed)
    mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config), sorted(secret_keys))
    try:
        mocks.test(program)()  # type: ignore[no-untyped-call]
    except Exception as error:
        raise ProgramFailedError(error, list(monitor.registrations)) from error
    root = runtime_settings.get_root_resource()
    exported: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    values, secret = asyncio.get_event_loop().run_until_complete(_resolve(exported))
    return OfflineRun(resources=list(monitor.registrations), outputs=values, secret_outputs=secret)


async def _resolve(exported: Mapping[str, Any]) -> tuple[dict[str, Any], frozenset[str]]:
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[name] = await output.future()
        if await output.is_secret():
            secret.add(name)
    return values, frozenset(secret)


def is_secret(value: Any) -> bool:
    """Whether a wire value is marked secret."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The value with every secret marker removed (for files a container receives)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """The value with every secret replaced by "[secret]" (for resources.json)."""
    if is_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
