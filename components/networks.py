"""The stack's private Docker networks: who can talk to whom is decided here."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

RESOURCE_TYPE = "llmstack:index:StackNetworks"


@dataclass(frozen=True, kw_only=True)
class StackNetworksArgs:
    """Inputs of `StackNetworks`."""

    docker_prefix: str
    """Prefix of Docker object names, so several stacks can share one engine."""


class StackNetworks(pulumi.ComponentResource):
    """Four bridge networks, each shared only by the containers that must talk.

    - `models` (internal): Ollama and LiteLLM. Nothing else can reach Ollama.
    - `gateway` (internal): LiteLLM and nginx.
    - `publish`: nginx alone; the only network with a published port.
    - `model_egress`: Ollama alone; its way out for model pulls, shared with no container.
    Internal networks have no route off the host and cannot publish ports.
    """

    models: docker.Network
    gateway: docker.Network
    publish: docker.Network
    model_egress: docker.Network

    def __init__(self, name: str, args: StackNetworksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.models = docker.Network(
            f"{name}-models", name=f"{args.docker_prefix}-models", driver="bridge", internal=True, opts=child
        )
        self.gateway = docker.Network(
            f"{name}-gateway", name=f"{args.docker_prefix}-gateway", driver="bridge", internal=True, opts=child
        )
        self.publish = docker.Network(
            f"{name}-publish", name=f"{args.docker_prefix}-publish", driver="bridge", internal=False, opts=child
        )
        self.model_egress = docker.Network(
            f"{name}-model-egress",
            name=f"{args.docker_prefix}-model-egress",
            driver="bridge",
            internal=False,
            opts=child,
        )
        self.register_outputs({})
