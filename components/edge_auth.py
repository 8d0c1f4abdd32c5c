"""The edge's basic-auth password(s) and the htpasswd file nginx reads on every request.

nginx's auth_basic reopens its user file for each request, so a file that changes in a volume
nginx mounts read-only takes effect at once, with no reload: a rotation replaces only the one-shot
writer. Each epoch has its own user name, because nginx checks only the first line of a user;
that is what lets the previous epoch's password stay valid beside the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import container_defaults as defaults
from components.delivered_files import DIGEST_ENV, DeliveredFile, DeliveredFiles, DeliveredFilesArgs
from components.render.htpasswd import htpasswd_line

USER = "llmstack"
"""The user name of epoch 0; later epochs are `llmstack-<epoch>`."""
AUTH_DIR = "auth"
"""The volume's directory, relative to nginx's configuration directory."""
HTPASSWD_NAME = "htpasswd"
_INBOX_DIR = "/opt/llmstack"
_STAGED = f"{_INBOX_DIR}/htpasswd"
WRITER_CONFINEMENT = defaults.Confinement(
    # Root with no capability, as the key writer: the volume is root's since Docker created it,
    # and only its owner can write there without CAP_DAC_OVERRIDE. It writes the volume, nothing else.
    user="0:0",
    nproc=64,
    cpu_shares=256,
)
INBOX_USER = "101:101"
"""The inbox carrier's user (nginx's): it never runs."""
# mktemp: a fresh name each run (a 0444 file left by an interrupted run could not be reopened
# without capabilities); mv within the directory is a rename, so nginx sees the old file or the new.
_WRITE = (
    'staged=$(mktemp "$2/.htpasswd.XXXXXX") && cat "$1" > "$staged" && chmod 0444 "$staged"'
    ' && mv -f "$staged" "$2/htpasswd"'
)


@dataclass(frozen=True)
class BasicAuth:
    """Basic-auth credentials generated for the edge (the current epoch's)."""

    user: str
    password: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class BasicAuthArgs:
    """What the edge's basic auth follows."""

    stack_epoch: str
    """Rotates every generated secret."""
    epoch: str
    """The current password's epoch."""
    previous_epoch: str | None
    """An epoch whose password stays accepted beside the current one; None: none."""


def user_of(epoch: str) -> str:
    """The user name of an epoch's password (epoch 0 keeps the name llmstack always had)."""
    return USER if epoch == "0" else f"{USER}-{epoch}"


@dataclass(frozen=True)
class DeliveredAuth:
    """The current credentials, the volume holding the htpasswd file, and the writer that fills it."""

    current: BasicAuth
    volume: docker.Volume
    writer: docker.Container
    delivered: pulumi.Output[bool]
    """True once the writer has run; an error naming the retry command otherwise."""


def deliver_basic_auth(
    name: str,
    args: BasicAuthArgs,
    *,
    docker_prefix: str,
    mount_path: str,
    image: pulumi.Input[str],
    parent: pulumi.Resource,
) -> DeliveredAuth:
    """One password per live epoch, their htpasswd lines, and the writer that puts them in a volume."""
    child = pulumi.ResourceOptions(parent=parent)
    # A salt kept in state makes each hash stable: no new file per update.
    salt = random.RandomString(f"{name}-basic-auth-salt", length=8, special=False, opts=child)
    epochs = (args.epoch,) if args.previous_epoch is None else (args.epoch, args.previous_epoch)
    passwords = {epoch: _password(name, args.stack_epoch, epoch, child) for epoch in epochs}
    lines = [_line(user_of(epoch), password, salt.result) for epoch, password in passwords.items()]
    htpasswd: pulumi.Output[str] = pulumi.Output.secret(pulumi.Output.all(*lines).apply("".join))
    volume = docker.Volume(f"{name}-basic-auth-volume", name=f"{docker_prefix}-edge-auth", opts=child)
    # The writer's read-only root cannot take uploads: its input arrives in an inbox volume.
    inbox = DeliveredFiles(
        f"{name}-basic-auth-inbox",
        DeliveredFilesArgs(
            docker_name=f"{docker_prefix}-edge-auth-inbox",
            image=image,
            user=INBOX_USER,
            mount_path=_INBOX_DIR,
            files=(DeliveredFile(path=_STAGED, content=htpasswd),),
        ),
        opts=child,
    )
    writer = docker.Container(
        f"{name}-basic-auth-writer",
        name=f"{docker_prefix}-edge-auth-writer",
        image=image,
        entrypoints=["sh", "-c", _WRITE, "write-htpasswd"],
        command=[_STAGED, mount_path],
        # A new file, a new digest: the writer runs again exactly when the file changes.
        envs=[pulumi.Output.concat(f"{DIGEST_ENV}=", inbox.digest)],
        volumes=[
            inbox.mount(),
            docker.ContainerVolumeArgs(volume_name=volume.name, container_path=mount_path),
        ],
        network_mode="none",
        **defaults.one_shot(confinement=WRITER_CONFINEMENT, memory_mb=32),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[inbox.carrier]),
    )
    current = BasicAuth(user_of(args.epoch), pulumi.Output.secret(passwords[args.epoch]))
    delivered = pulumi.Output.all(writer.urn, writer.exit_code).apply(_checked)
    return DeliveredAuth(current=current, volume=volume, writer=writer, delivered=delivered)


def _line(user: str, password: pulumi.Output[str], salt: pulumi.Output[str]) -> pulumi.Output[str]:
    return pulumi.Output.all(password, salt).apply(lambda values: htpasswd_line(user, values[0], values[1]))


def _checked(result: list[Any]) -> bool:
    urn, exit_code = result
    defaults.checked_exit(
        "delivering the basic-auth file to nginx", str(urn), exit_code, None, preview=pulumi.runtime.is_dry_run()
    )
    return True


def _password(name: str, stack_epoch: str, epoch: str, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
    # Epoch 0 keeps the resource name it always had; later epochs are named after themselves, so
    # the previous one stays in state, unchanged, while its grace window lasts.
    suffix = "" if epoch == "0" else f"-{epoch}"
    password = random.RandomPassword(
        f"{name}-basic-auth-password{suffix}",
        length=32,
        special=False,
        keepers={"rotationEpoch": stack_epoch, "basicAuthEpoch": epoch},
        opts=child,
    )
    return password.result
