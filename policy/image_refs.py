"""Docker image references: `[registry[:port]/]repository[:tag][@sha256:digest]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageReference:
    """The parts of an image reference."""

    repository: str
    """Registry and repository, e.g. `ghcr.io/berriai/litellm`."""
    tag: str
    """The tag, or "" when there is none."""
    digest: str
    """The `sha256:…` digest, or "" when there is none."""

    @property
    def has_valid_digest(self) -> bool:
        """Whether the reference pins content by a well-formed sha256 digest."""
        return bool(_DIGEST.match(self.digest))


def parse(reference: str) -> ImageReference:
    """Split a reference; a colon inside the registry part (a port) is not a tag."""
    name, _, digest = reference.partition("@")
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        return ImageReference(repository=head, tag=tag, digest=digest)
    return ImageReference(repository=name, tag="", digest=digest)


def is_image_id(reference: str) -> bool:
    """Whether `reference` is a local image ID (what `RemoteImage.image_id` resolves to): exact content."""
    return bool(_IMAGE_ID.match(reference))
