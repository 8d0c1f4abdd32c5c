"""Files for a read-only container: a named volume filled by a carrier container that never starts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import container_defaults as defaults

RESOURCE_TYPE = "llmstack:index:DeliveredFiles"
DIGEST_ENV = "LLMSTACK_FILES_DIGEST"
"""Environment variable of the reading container: the files' digest, so new files replace it."""


@dataclass(frozen=True, kw_only=True)
class DeliveredFile:
    """One file: its path inside the reading container (under `mount_path`), content and mode."""

    path: str
    content: pulumi.Input[str]
    permissions: str = "0444"


@dataclass(frozen=True, kw_only=True)
class DeliveredFilesArgs:
    """Inputs of `DeliveredFiles`."""

    docker_name: str
    """Docker name of the volume and of the carrier container."""
    image: pulumi.Input[str]
    """Image of the carrier (the reader's: it is never started, nothing of it runs)."""
    user: str
    """The reader's uid:gid, given to the carrier too."""
    mount_path: str
    """Where the reader mounts the volume (read-only); every file's path lies under it."""
    files: tuple[DeliveredFile, ...]
    """What the volume holds."""


class DeliveredFiles(pulumi.ComponentResource):
    """A named volume holding `files`, for a container that mounts it read-only.

    The provider can put files into a container only by `uploads`, which the daemon refuses on a
    read-only root. So a carrier container (same image, never started, no network, no capability)
    mounts the volume at the reader's path and receives the uploads, which land in the volume. A
    change replaces the carrier (new uploads, same volume); `digest` changes with the files, and
    the reader puts it in its environment (`DIGEST_ENV`), which replaces it exactly when a file
    changes, as uploads into the reader did. Files are root-owned with their mode (0444 by
    default: the reader's uid is not root). A file dropped from `files` stays in the volume unused.
    """

    volume: docker.Volume
    carrier: docker.Container
    digest: pulumi.Output[str]

    def __init__(self, name: str, args: DeliveredFilesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(RESOURCE_TYPE, name, None, opts)
        self._mount_path = args.mount_path
        for file in args.files:
            if not file.path.startswith(args.mount_path.rstrip("/") + "/"):
                raise ValueError(f"{name}: {file.path} lies outside the volume's path {args.mount_path}")
        self.volume = docker.Volume(f"{name}-volume", name=args.docker_name, opts=pulumi.ResourceOptions(parent=self))
        self.carrier = docker.Container(
            f"{name}-carrier",
            name=args.docker_name,
            image=args.image,
            uploads=[
                docker.ContainerUploadArgs(file=file.path, content=file.content, permissions=file.permissions)
                for file in args.files
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=args.mount_path)],
            **defaults.never_started(user=args.user),
            opts=pulumi.ResourceOptions(parent=self),
        )
        listing = [pulumi.Output.all(file.path, file.permissions, file.content) for file in args.files]
        self.digest = pulumi.Output.all(*listing).apply(files_digest)
        self.register_outputs({})

    def mount(self) -> docker.ContainerVolumeArgs:
        """The reader's read-only mount of the volume."""
        return docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=self._mount_path, read_only=True)


def files_digest(listing: list[list[str]]) -> str:
    """SHA-256 of every (path, mode, content): it names the files without revealing them."""
    return hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
