"""Image pinning: a readable tag that is never `latest`, and (advised) a content digest."""

from __future__ import annotations

from policy.containers import CONTAINER
from policy.image_refs import is_image_id, parse
from policy.props import Props, text

REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"


def image_reference(resource_type: str, props: Props) -> tuple[str, str] | None:
    """The image a resource names, as (input name, reference); None for other resource types."""
    if resource_type == CONTAINER:
        return "image", text(props, "image")
    if resource_type == REMOTE_IMAGE:
        return "name", text(props, "name")
    return None


def pinned_tag(resource_type: str, props: Props) -> list[str]:
    """Images carry an explicit tag that is not `latest`."""
    named = image_reference(resource_type, props)
    if named is None:
        return []
    key, reference = named
    # Under the engine a container's image is RemoteImage.image_id, an ID that names exact content.
    if is_image_id(reference):
        return []
    if not reference:
        return [f"{key} is unset: name a pinned image"]
    parts = parse(reference)
    if parts.has_valid_digest:
        # A digest pins exact content: stricter than any tag (the digest advice recommends it).
        return []
    if parts.digest:
        return [f"{key} {reference!r} has a malformed digest: use @sha256:<64 hex digits>"]
    if not parts.tag:
        return [f"{key} {reference!r} has no tag: Docker pulls whatever `latest` is today"]
    if parts.tag == "latest":
        return [f"{key} {reference!r} uses the moving tag `latest`: pin a version"]
    return []


def pinned_digest(resource_type: str, props: Props) -> list[str]:
    """Images are also pinned by digest, so a re-pushed tag cannot change what runs."""
    named = image_reference(resource_type, props)
    if named is None:
        return []
    key, reference = named
    if not reference or is_image_id(reference) or parse(reference).has_valid_digest:
        return []
    return [f"{key} {reference!r} has no @sha256 digest: a re-pushed tag would change what runs"]
