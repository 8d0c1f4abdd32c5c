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
MODEL_DIR = "/var/lib/ollama"
"""Where the model volume is mounted. It was /root/.ollama (root's HOME) until #22: the volume's
layout is unchanged (`models/` plus the old key pair), only the mount point moved, out of /root (0700)."""
MODELS_ENV = f"OLLAMA_MODELS={MODEL_DIR}/models"
OLLAMA_USER = "10001:10001"
"""The image has no USER (root, HOME=/root); any uid serves, given HOME and OLLAMA_MODELS."""
SCRATCH = "/tmp"  # noqa: S108 - the container's own tmpfs
HOME_ENV = f"HOME={SCRATCH}"
"""`ollama serve` writes its key pair under $HOME/.ollama at every start (cmd.go initializeKeypair)."""
CONFINEMENT = defaults.Confinement(
    user=OLLAMA_USER,
    # Its key pair (signs registry requests: a serving Ollama makes none) and CUDA's cache under HOME.
    writable={SCRATCH: 256},
    nproc=4096,
    cpu_shares=2048,
)
PULL_CONFINEMENT = defaults.Confinement(
    # Root with no capability: the model files are root's since the first deploy (Ollama ran as root),
    # so only root writes beside them without CAP_CHOWN/DAC_OVERRIDE. It is a one-shot, not a server.
    user="0:0",
    writable={SCRATCH: 64},
    nproc=512,
    cpu_shares=512,
)
PULL_SCRIPT = """\
ollama serve >/tmp/serve.log 2>&1 & server=$!
tries=0
until ollama list >/dev/null 2>&1; do
  tries=$((tries + 1)); if [ "$tries" -gt 60 ]; then cat /tmp/serve.log; exit 1; fi; sleep 1
done
ollama pull "$1"; status=$?
kill "$server"; wait "$server"
exit "$status"
"""
"""A pull container's own `ollama serve` (the server, not the CLI, downloads) and the pull through it."""
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
    """Network of the pull containers only: the way out for model pulls. The serving Ollama is not on it."""


class ModelServer(pulumi.ComponentResource):
    """The Ollama container, never published: reachable as `ollama:11434` from the models network only.

    Models live in a named volume that is protected and retained on delete. The serving Ollama
    runs as a non-root uid, mounts the volume read-only and has no way out of the host. Each
    declared model is pulled by its own one-shot container: its own `ollama serve` on loopback, on
    the egress network, the volume writable; pulls run one after another. Editing the model list
    adds or replaces pull containers only, never the serving container or the volume; the serving
    Ollama reads a model's manifest from the volume when it is asked for it. `pulumi up` fails if a
    pull fails.
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
                MODELS_ENV,
                HOME_ENV,
                # Pruning at start would write to the read-only volume: the pull containers own it.
                "OLLAMA_NOPRUNE=1",
                # Admission control: a bounded queue, so overload is a fast 503, not a pile-up.
                f"OLLAMA_NUM_PARALLEL={args.admission.num_parallel}",
                f"OLLAMA_MAX_QUEUE={args.admission.max_queue}",
                # The server's, not a client's: a request's own num_ctx would reload the model.
                *([f"OLLAMA_CONTEXT_LENGTH={args.context_length}"] if args.context_length else []),
            ],
            gpus=args.gpus.docker_gpus,
            device_requests=_device_requests(args.gpus),
            volumes=[
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=MODEL_DIR, read_only=True)
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.models_network.name, aliases=[OLLAMA_ALIAS]),
            ],
            healthcheck=defaults.healthcheck(["CMD", "ollama", "list"]),
            # Ollama closes its server at once on SIGTERM; the grace lets it stop its model runners.
            **defaults.long_running(
                confinement=CONFINEMENT, memory_mb=args.limits.memory_mb, wait_timeout_seconds=180, grace_seconds=30
            ),
            opts=defaults.serving_options(self),
        )
        pulls: list[pulumi.Output[str]] = []
        previous: docker.Container | None = None
        for model in args.models:
            # One after another: two servers writing the same blob's partial file would race.
            previous, pulled = self._pull(name, args, model, image, previous)
            pulls.append(pulled)
        # Registering the pull results makes the engine await them, so a failed pull fails the update.
        self.register_outputs({"pulledModels": pulumi.Output.all(*pulls)})

    def _pull(
        self,
        name: str,
        args: ModelServerArgs,
        model: ModelSpec,
        image: docker.RemoteImage,
        after: docker.Container | None,
    ) -> tuple[docker.Container, pulumi.Output[str]]:
        puller = docker.Container(
            f"{name}-pull-{model.name}",
            name=f"{args.docker_prefix}-ollama-pull-{model.name}",
            image=image.image_id,
            entrypoints=["/bin/sh", "-c"],
            command=[PULL_SCRIPT, "pull", model.tag],
            envs=[f"OLLAMA_HOST=127.0.0.1:{OLLAMA_PORT}", MODELS_ENV, HOME_ENV],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=MODEL_DIR)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.egress_network.name)],
            logs=True,
            **defaults.one_shot(confinement=PULL_CONFINEMENT, memory_mb=512),
            # A large model takes longer than the provider's 20-minute default to pull.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[after] if after is not None else None,
                custom_timeouts=pulumi.CustomTimeouts(create=PULL_TIMEOUT, update=PULL_TIMEOUT),
            ),
        )
        pulled = pulumi.Output.all(puller.urn, puller.exit_code, puller.container_logs).apply(
            lambda result: _checked_pull(model.tag, result[0], result[1], result[2])
        )
        return puller, pulled


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
