"""LiteLLM: the API-key gateway between nginx and Ollama."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import container_defaults as defaults
from components.client_keys import GATEWAY_KEYS_DIR, KEYS_FILE, ClientKeys, ClientKeysArgs
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.litellm import (
    METRICS_DIR_ENV,
    NETWORK_ENV,
    OFFLINE_ENV,
    RUNTIME_ENV,
    LiteLLMContext,
    render_litellm_config,
    render_pool_deployments,
)
from components.settings.model import BanPolicy, ClientSpec, ContainerLimits, ImageRef, Rotation
from components.shipped.litellm.llmstack_contract import (
    BAN_EXEMPT_CIDRS_ENV,
    BAN_FIND_SECONDS_ENV,
    BAN_MAX_RETRY_ENV,
    BAN_SECONDS_ENV,
    BANS_FILE_ENV,
    KEYS_FILE_ENV,
    MASTER_KEY_ENV,
    POOL_FILE_ENV,
    RATES_FILE_ENV,
    SERVE_MODULE,
    SHIPPED_MODULES,
    TIMEOUT_ENV,
)

RESOURCE_TYPE = "llmstack:index:Gateway"
GATEWAY_ALIAS = "litellm"
GATEWAY_PORT = 4000
CONFIG_DIR = "/etc/litellm"
CONFIG_PATH = f"{CONFIG_DIR}/config.yaml"
POOL_DIR = "/etc/llmstack-pool"
"""The GPU pool's deployments, on a volume of their own whose changes LiteLLM takes without a restart."""
POOL_FILE = f"{POOL_DIR}/deployments.yaml"
_SHIPPED_MODULES = {
    module: (Path(__file__).parent / "shipped" / "litellm" / f"{module}.py").read_text() for module in SHIPPED_MODULES
}
SHUTDOWN_ENV = "GRACEFUL_SHUTDOWN_TIMEOUT"
"""Seconds LiteLLM's workers drain open requests after SIGTERM (its default is 30); gunicorn
allows 10 more for teardown (litellm/proxy/proxy_cli.py, GRACEFUL_SHUTDOWN_TEARDOWN_HEADROOM_SECONDS)."""
GATEWAY_GRACE_SECONDS = defaults.DRAIN_SECONDS + 15
"""Docker's wait before SIGKILL: LiteLLM's drain, gunicorn's teardown headroom and a margin."""
RATES_FILE = "/tmp/llmstack/rates.sqlite3"  # noqa: S108 - the container's own /tmp, shared by its workers
LITELLM_USER = "65534:65534"
"""nobody, as upstream's docker/Dockerfile.non_root (`USER nobody`); the root image's files are world-readable."""
CONFINEMENT = defaults.Confinement(
    user=LITELLM_USER,
    # The rate limiter's sqlite files, gunicorn's per-worker heartbeat files, any stray ~/.cache.
    writable={"/tmp": 64},  # noqa: S108 - the container's own tmpfs
    nproc=1024,
    cpu_shares=1024,
)
METRICS_DIR = "/tmp/llmstack/prometheus"  # noqa: S108 - the container's own /tmp, emptied at each start
BANS_DIR = "/var/lib/llmstack/bans"
"""The named volume holding the ban list, so bans outlive a restart or replacement of the container."""
BANS_FILE = f"{BANS_DIR}/bans.sqlite3"
BANS_SETUP_CONFINEMENT = defaults.Confinement(
    # Root for one `chown`: Docker creates the volume root-owned and LiteLLM runs as nobody.
    user="0:0",
    nproc=64,
    cpu_shares=256,
)


@dataclass(frozen=True, kw_only=True)
class GatewayArgs:
    """Inputs of `Gateway`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    image: ImageRef
    """Pinned LiteLLM image (same version as the tested PyPI package)."""
    config: LiteLLMContext
    """What the rendered LiteLLM config contains."""
    clients: tuple[ClientSpec, ...]
    """API clients, each given its own key."""
    rotation: Rotation
    """Epochs the keys follow."""
    limits: ContainerLimits
    """Container limits."""
    workers: int
    """LiteLLM worker processes; a client's request rate is counted across all of them."""
    models_network: docker.Network
    """Internal network shared with Ollama."""
    gateway_network: docker.Network
    """Internal network shared with nginx."""
    monitoring_network: docker.Network | None = None
    """With monitoring on, the internal network Prometheus scrapes `/metrics` on."""
    grace_seconds: int
    """How long a stop waits for open requests and streams before SIGKILL."""
    bans: BanPolicy
    """Brute-force bans, enforced by the auth hook."""


class Gateway(pulumi.ComponentResource):
    """The LiteLLM proxy, never published: reachable as `litellm:4000` from nginx's network only.

    Its master key (the admin key) is generated here (pulumi-random, `sk-` + 48 characters) and,
    like the client keys, reaches LiteLLM only as a digest in `ClientKeys`' read-only volume, so
    every key rotates without a restart. LiteLLM still wants a key of its own (unset, it runs in
    its no-auth mode): a boot key, in the environment only, which the auth hook never accepts.
    """

    master_key: pulumi.Output[str]
    client_keys: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = random.RandomPassword(
            f"{name}-master-key",
            length=48,
            special=False,
            keepers={"rotationEpoch": args.rotation.stack_epoch, "masterKeyEpoch": args.rotation.master_key_epoch},
            opts=child,
        )
        self.master_key = pulumi.Output.secret(pulumi.Output.concat("sk-", key.result))
        # No keepers: it opens nothing, so rotating it would only restart LiteLLM for no gain.
        boot_key = random.RandomPassword(f"{name}-boot-key", length=48, special=False, opts=child)
        image = docker.RemoteImage(f"{name}-image", name=args.image.reference, keep_locally=True, opts=child)
        keys = ClientKeys(
            f"{name}-client-keys",
            ClientKeysArgs(
                docker_prefix=args.docker_prefix,
                clients=args.clients,
                master_key=self.master_key,
                writer_image=image.image_id,
                stack_epoch=args.rotation.stack_epoch,
            ),
            opts=child,
        )
        self.client_keys = keys.keys
        delivered = DeliveredFiles(
            f"{name}-files",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-litellm-files",
                image=image.image_id,
                user=LITELLM_USER,
                mount_path=CONFIG_DIR,
                files=_files(args.config),
            ),
            opts=child,
        )
        pool = _pool_deployments(name, args, image.image_id, self)
        # Not protected: losing it lifts the bans, nothing more (and `pulumi destroy` stays possible).
        bans = docker.Volume(f"{name}-bans", name=f"{args.docker_prefix}-litellm-bans", opts=child)
        bans_setup = _bans_setup(name, args.docker_prefix, image.image_id, bans, self)
        docker.Container(
            f"{name}-container",
            name=f"{args.docker_prefix}-litellm",
            image=image.image_id,
            # LiteLLM's CLI through llmstack's start: workers forked after one import, JSON logs.
            entrypoints=["python3"],
            command=[
                f"{CONFIG_DIR}/{SERVE_MODULE}.py",
                *("--config", CONFIG_PATH, "--num_workers", str(args.workers), "--run_gunicorn"),
                # All interfaces of the container, which sits on internal networks only.
                *("--host", "0.0.0.0", "--port", str(GATEWAY_PORT)),  # noqa: S104
            ],
            envs=[
                *_environment(args, pulumi.Output.secret(pulumi.Output.concat("sk-boot-", boot_key.result))),
                pulumi.Output.concat(f"{DIGEST_ENV}=", delivered.digest),
                # Not the pool file's digest: the workers re-read it (llmstack_pool.py), so a change of
                # hosts replaces only its carrier.
                *([f"{POOL_FILE_ENV}={POOL_FILE}"] if pool is not None else []),
            ],
            volumes=[
                delivered.mount(),
                docker.ContainerVolumeArgs(
                    volume_name=keys.volume.name, container_path=GATEWAY_KEYS_DIR, read_only=True
                ),
                docker.ContainerVolumeArgs(volume_name=bans.name, container_path=BANS_DIR),
                *([pool.mount()] if pool is not None else []),
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.models_network.name),
                docker.ContainerNetworksAdvancedArgs(name=args.gateway_network.name, aliases=[GATEWAY_ALIAS]),
                *(
                    [docker.ContainerNetworksAdvancedArgs(name=args.monitoring_network.name, aliases=[GATEWAY_ALIAS])]
                    if args.monitoring_network is not None
                    else []
                ),
            ],
            healthcheck=_HEALTHCHECK,
            # SIGTERM (the image's): uvicorn stops taking requests and lets open ones finish.
            **defaults.long_running(
                confinement=CONFINEMENT,
                memory_mb=args.limits.memory_mb,
                wait_timeout_seconds=180,
                grace_seconds=args.grace_seconds,
            ),
            opts=defaults.serving_options(
                self, depends_on=[delivered.carrier, bans_setup, *([pool.carrier] if pool is not None else [])]
            ),
        )
        checked = pulumi.Output.all(bans_setup.urn, bans_setup.exit_code, bans_setup.container_logs).apply(
            lambda result: defaults.checked_exit(
                "handing the ban list's volume to LiteLLM", result[0], result[1], result[2],
                preview=pulumi.runtime.is_dry_run(),
            )
        )  # fmt: skip
        # Registering the check makes the engine await it, so a failed setup fails the update.
        self.register_outputs({"bansSetup": checked})


def _pool_deployments(
    name: str, args: GatewayArgs, image: pulumi.Input[str], parent: pulumi.Resource
) -> DeliveredFiles | None:
    """The GPU pool's deployments file on its own volume; None for the single-host stack."""
    if not args.config.pool:
        return None
    return DeliveredFiles(
        f"{name}-pool",
        DeliveredFilesArgs(
            docker_name=f"{args.docker_prefix}-litellm-pool",
            image=image,
            user=LITELLM_USER,
            mount_path=POOL_DIR,
            files=(DeliveredFile(path=POOL_FILE, content=render_pool_deployments(args.config)),),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _bans_setup(
    name: str, prefix: str, image: pulumi.Input[str], bans: docker.Volume, parent: pulumi.Resource
) -> docker.Container:
    """A one-shot root job that hands the ban list's volume to LiteLLM's user (Docker creates it root-owned).

    It runs once per volume (a replaced volume replaces it); CHOWN is its one capability, with no
    network and a read-only root. Without it the non-root LiteLLM could not write the ban list.
    """
    return docker.Container(
        f"{name}-bans-setup",
        name=f"{prefix}-litellm-bans-setup",
        image=image,
        entrypoints=["/bin/sh", "-c"],
        # chmod first, as the owner: without FOWNER root may not change another user's mode, and
        # the first chown makes a re-run (the volume already LiteLLM's) start from the same state.
        command=[f"chown 0 {BANS_DIR} && chmod 0700 {BANS_DIR} && chown {LITELLM_USER} {BANS_DIR}"],
        volumes=[docker.ContainerVolumeArgs(volume_name=bans.name, container_path=BANS_DIR)],
        network_mode="none",
        logs=True,
        **{
            **defaults.one_shot(confinement=BANS_SETUP_CONFINEMENT, memory_mb=32),
            "capabilities": defaults.capabilities("CHOWN"),
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )


_HEALTHCHECK = defaults.healthcheck(
    [
        "CMD",
        "python3",
        "-c",
        f"import urllib.request as u; u.urlopen('http://127.0.0.1:{GATEWAY_PORT}/health/liveliness', timeout=4)",
    ],
    start_period_seconds=60,
)
"""LiteLLM's own liveness route, asked with the image's python3 (it has no curl)."""


def _environment(args: GatewayArgs, boot_key: pulumi.Output[str]) -> list[pulumi.Input[str]]:
    """The container's environment: the boot key (only here), the files the hooks use, the runtime."""
    return [
        pulumi.Output.concat(f"{MASTER_KEY_ENV}=", boot_key),
        f"{KEYS_FILE_ENV}={KEYS_FILE}",
        f"{RATES_FILE_ENV}={RATES_FILE}",
        f"{BANS_FILE_ENV}={BANS_FILE}",
        f"{BAN_MAX_RETRY_ENV}={args.bans.max_retry}",
        f"{BAN_FIND_SECONDS_ENV}={args.bans.find_seconds}",
        f"{BAN_SECONDS_ENV}={args.bans.ban_seconds}",
        f"{BAN_EXEMPT_CIDRS_ENV}={','.join(args.bans.exempt_cidrs)}",
        f"{TIMEOUT_ENV}={args.config.generation_timeout_seconds}",
        f"{SHUTDOWN_ENV}={defaults.DRAIN_SECONDS}",
        # The shipped modules import the contract by plain name: whatever starts Python (the start
        # script, a worker uvicorn spawns), it must find them beside the config.
        f"PYTHONPATH={CONFIG_DIR}",
        # Not root's /root: anything that writes under ~ lands on the tmpfs.
        "HOME=/tmp",
        *(f"{k}={v}" for k, v in {**OFFLINE_ENV, **NETWORK_ENV, **RUNTIME_ENV}.items()),
        *([f"{METRICS_DIR_ENV}={METRICS_DIR}"] if args.config.metrics else []),
    ]


def _files(config: LiteLLMContext) -> tuple[DeliveredFile, ...]:
    """config.yaml and, beside it, the modules it and the hook load."""
    return (
        DeliveredFile(path=CONFIG_PATH, content=render_litellm_config(config)),
        *(DeliveredFile(path=f"{CONFIG_DIR}/{module}.py", content=text) for module, text in _SHIPPED_MODULES.items()),
    )
