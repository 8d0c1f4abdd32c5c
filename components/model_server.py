"""Ollama: the GPU model server, its model volume and the one-shot model pulls."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults
from components.settings.model import Admission, ContainerLimits, GpuRequest, ImageRef, ModelSpec

RESOURCE_TYPE = "llmstack:index:ModelServer"
OLLAMA_ALIAS = "ollama"
OLLAMA_PORT = 11434
MODEL_DIR = "/root/.ollama"
PULL_TIMEOUT = "4h"
"""How long one model pull may take before `pulumi up` gives up on it."""


@dataclass(frozen=True, kw_only=True)
class ModelServerArgs:
    """Inputs of `ModelServer`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    image: ImageRef
    """Pinned Ollama image."""
    gpus: GpuRequest
    """GPUs handed to the container."""
    models: tuple[ModelSpec, ...]
    """Models that must be present after `pulumi up`."""
    limits: ContainerLimits
    """Container limits."""
    admission: Admission
    """Concurrency and queue bound: past them Ollama answers 503 at once."""
    context_length: int | None
    """Context window in tokens of models whose Modelfile sets none; None keeps Ollama's default."""
    models_network: docker.Network
    """Internal network shared with LiteLLM only."""
    egress_network: docker.Network
    """Network shared with no other container: Ollama's way out for model pulls."""


class ModelServer(pulumi.ComponentResource):
    """The Ollama container, never published: reachable as `ollama:11434` from the models network only.

    Models live in a named volume that is protected and retained on delete. Each declared model
    is pulled by its own one-shot container that shares Ollama's network namespace (so it needs no
    network of its own) and exits; editing the model list adds or replaces pull containers only,
    never the serving container or the volume. `pulumi up` fails if a pull fails.
    """

    container: docker.Container
    volume: docker.Volume

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        self.volume = docker.Volume(
            f"{name}-models",
            name=f"{args.docker_prefix}-ollama-models",
            # Models are large and slow to pull: no update or destroy may delete them.
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        self.container = docker.Container(
            f"{name}-container",
            name=f"{args.docker_prefix}-ollama",
            image=image.image_id,
            envs=[
                f"OLLAMA_HOST=0.0.0.0:{OLLAMA_PORT}",
                # Admission control: a bounded queue, so overload is a fast 503, not a pile-up.
                f"OLLAMA_NUM_PARALLEL={args.admission.num_parallel}",
                f"OLLAMA_MAX_QUEUE={args.admission.max_queue}",
                # The server's, not a client's: a request's own num_ctx would reload the model.
                *([f"OLLAMA_CONTEXT_LENGTH={args.context_length}"] if args.context_length else []),
            ],
            gpus=args.gpus.docker_gpus,
            device_requests=_device_requests(args.gpus),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=MODEL_DIR)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.models_network.name, aliases=[OLLAMA_ALIAS]),
                docker.ContainerNetworksAdvancedArgs(name=args.egress_network.name),
            ],
            healthcheck=defaults.healthcheck(["CMD", "ollama", "list"]),
            # Ollama closes its server at once on SIGTERM; the grace lets it stop its model runners.
            **defaults.long_running(memory_mb=args.limits.memory_mb, wait_timeout_seconds=180, grace_seconds=30),
            opts=defaults.serving_options(self),
        )
        pulls = [self._pull(name, args.docker_prefix, model, image, child) for model in args.models]
        # Registering the pull results makes the engine await them, so a failed pull fails the update.
        self.register_outputs({"pulledModels": pulumi.Output.all(*pulls)})

    def _pull(
        self,
        name: str,
        docker_prefix: str,
        model: ModelSpec,
        image: docker.RemoteImage,
        child: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        puller = docker.Container(
            f"{name}-pull-{model.name}",
            name=f"{docker_prefix}-ollama-pull-{model.name}",
            image=image.image_id,
            command=["pull", model.tag],
            envs=[f"OLLAMA_HOST=127.0.0.1:{OLLAMA_PORT}"],
            network_mode=pulumi.Output.concat("container:", self.container.id),
            logs=True,
            **defaults.one_shot(memory_mb=256),
            # A large model takes longer than the provider's 20-minute default to pull.
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create=PULL_TIMEOUT, update=PULL_TIMEOUT)
            ),
        )
        return pulumi.Output.all(puller.urn, puller.exit_code, puller.container_logs).apply(
            lambda result: _checked_pull(model.tag, result[0], result[1], result[2])
        )


def _checked_pull(tag: str, urn: str, exit_code: float | None, logs: str | None) -> str:
    """The pulled tag, or an error with the pull's last log lines and the command that retries it."""
    defaults.checked_exit(f"pulling Ollama model {tag!r}", urn, exit_code, logs, preview=pulumi.runtime.is_dry_run())
    return tag


def _device_requests(gpus: GpuRequest) -> list[docker.ContainerDeviceRequestArgs] | None:
    """A device list as an NVIDIA device request: `gpus="device=0,1"` cannot start.

    The provider parses `gpus` with the CLI's parser, which makes `device=0,1` a count of 1 plus
    device 0, and the engine refuses "cannot set both Count and DeviceIDs".
    """
    if not gpus.device_ids:
        return None
    return [docker.ContainerDeviceRequestArgs(driver="nvidia", device_ids=list(gpus.device_ids), capabilities=["gpu"])]
