"""Per-client API keys and their delivery to LiteLLM without restarting it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.client_keys import ClientEntry, KeyDigest, key_digest, render_keys_file
from components.settings.model import ClientSpec

RESOURCE_TYPE = "llmstack:index:ClientKeys"
GATEWAY_KEYS_DIR = "/run/llmstack/keys"
"""Where LiteLLM sees the keys volume (read-only)."""
KEYS_FILE = f"{GATEWAY_KEYS_DIR}/clients.json"
WRITER_DIR = "/opt/llmstack"
WRITER_VOLUME_DIR = "/keys"
_WRITER_SCRIPT = (Path(__file__).parent / "shipped" / "key_writer" / "write_keys.py").read_text()
WRITER_CONFINEMENT = defaults.Confinement(
    # Root with no capability: the keys volume and its file are root's since the first deploy, and
    # only root can replace them without CAP_CHOWN/DAC_OVERRIDE. It writes the volume and nothing else.
    user="0:0",
    nproc=64,
    cpu_shares=256,
)
INBOX_USER = "65534:65534"
"""The inbox carrier's user: it never runs, so any unprivileged uid."""


@dataclass(frozen=True, kw_only=True)
class ClientKeysArgs:
    """Inputs of `ClientKeys`."""

    docker_prefix: str
    """Prefix of Docker object names."""
    clients: tuple[ClientSpec, ...]
    """The clients that get a key."""
    master_key: pulumi.Output[str]
    """The master (admin) key: delivered as a digest beside the clients', so it rotates the same way."""
    writer_image: pulumi.Input[str]
    """Image of the one-shot writer (LiteLLM's: it has python3)."""
    stack_epoch: str
    """Stack-wide rotation epoch: a keeper of every key."""


class ClientKeys(pulumi.ComponentResource):
    """One pulumi-random key per client, and the one-shot container that delivers their digests.

    A client's key resource is named after its epoch, so a new epoch issues a new key while the
    previous generation's resource (and key) can stay in state for a grace window; the auth hook
    stops accepting it at `previousValidUntil` by itself. The stack-wide epoch is a keeper of
    every key. The keys volume holds only SHA-256 digests. LiteLLM mounts it read-only and its auth hook
    re-reads the file when it changes, so adding, removing or rotating a client, or the master key,
    replaces only the writer container: LiteLLM and Ollama keep running. The writer has no network at all.
    """

    keys: dict[str, pulumi.Output[str]]
    volume: docker.Volume

    def __init__(self, name: str, args: ClientKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def key(client: ClientSpec, epoch: str) -> pulumi.Output[str]:
            password = random.RandomPassword(
                f"{name}-{client.key_label(epoch)}",
                length=48,
                special=False,
                keepers={"rotationEpoch": args.stack_epoch, "epoch": epoch},
                opts=child,
            )
            return pulumi.Output.secret(pulumi.Output.concat("sk-", password.result))

        self.keys = {client.name: key(client, client.epoch) for client in args.clients}
        previous = {c.name: key(c, c.previous_epoch) for c in args.clients if c.previous_epoch is not None}
        keys_file = pulumi.Output.all(
            current=pulumi.Output.all(*(self.keys[c.name] for c in args.clients)),
            previous=pulumi.Output.all(*previous.values()),
            master=args.master_key,
        ).apply(
            lambda values: _render(
                args.clients,
                values["current"],
                dict(zip(previous, values["previous"], strict=True)),
                values["master"],
            )
        )
        self.volume = docker.Volume(f"{name}-volume", name=f"{args.docker_prefix}-client-keys", opts=child)
        # The writer's read-only root cannot take uploads: its script and input arrive in an inbox volume.
        inbox = DeliveredFiles(
            f"{name}-inbox",
            DeliveredFilesArgs(
                docker_name=f"{args.docker_prefix}-client-keys-inbox",
                image=args.writer_image,
                user=INBOX_USER,
                mount_path=WRITER_DIR,
                files=(
                    DeliveredFile(path=f"{WRITER_DIR}/write_keys.py", content=_WRITER_SCRIPT),
                    DeliveredFile(path=f"{WRITER_DIR}/clients.json", content=pulumi.Output.secret(keys_file)),
                ),
            ),
            opts=child,
        )
        writer = docker.Container(
            f"{name}-writer",
            name=f"{args.docker_prefix}-client-keys-writer",
            image=args.writer_image,
            entrypoints=["python3"],
            command=[f"{WRITER_DIR}/write_keys.py", f"{WRITER_DIR}/clients.json", WRITER_VOLUME_DIR],
            # New keys, new digest: the writer runs again exactly when the file changes.
            envs=[pulumi.Output.concat(f"{DIGEST_ENV}=", inbox.digest), "PYTHONDONTWRITEBYTECODE=1"],
            volumes=[
                inbox.mount(),
                docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=WRITER_VOLUME_DIR),
            ],
            network_mode="none",
            **defaults.one_shot(confinement=WRITER_CONFINEMENT, memory_mb=64),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[inbox.carrier]),
        )
        # Registering the check makes the engine await it, so a failed delivery fails the update.
        self.register_outputs({"delivered": pulumi.Output.all(writer.urn, writer.exit_code).apply(_checked)})


def _checked(result: list[Any]) -> bool:
    """True once the writer has delivered the keys file; an error naming the retry command otherwise."""
    urn, exit_code = result
    # No logs in state: they would sit there in plain text; `docker logs` shows them.
    defaults.checked_exit(
        "delivering the client keys to LiteLLM", urn, exit_code, None, preview=pulumi.runtime.is_dry_run()
    )
    return True


def _render(clients: tuple[ClientSpec, ...], current: list[str], previous: dict[str, str], master: str) -> str:
    entries = []
    for client, key in zip(clients, current, strict=True):
        digests = [KeyDigest(sha256=key_digest(key))]
        if client.name in previous:
            digests.append(KeyDigest(sha256=key_digest(previous[client.name]), not_after=client.previous_valid_until))
        entries.append(
            ClientEntry(
                name=client.name,
                models=client.models,
                apis=client.apis,
                rpm_limit=client.rpm_limit,
                admin=client.admin,
                keys=tuple(digests),
            )
        )
    return render_keys_file(tuple(entries), master=(KeyDigest(sha256=key_digest(master)),))
