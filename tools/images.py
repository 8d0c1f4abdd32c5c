"""`make images STACK=…`: per container, the image the stack pins and the one the engine runs.

The pins come from the stack's config (Pulumi.<stack>.yaml and the project defaults) through the
program itself, rendered offline; what runs comes from the Docker engine the `docker` CLI reaches
(DOCKER_HOST for a remote one). Exit status 1 when a running container is not on its pin, so a
cron job or CI can watch for drift after an image update.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from offline.engine import OfflineRun, reveal, run_offline
from offline.render import PROJECT_DIR, read_stack_file, with_project_defaults
from offline.standins import stand_in_image_id

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"


@dataclass(frozen=True)
class Pinned:
    """One container of the stack and the image reference it is declared with."""

    resource: str
    container: str
    reference: str


@dataclass(frozen=True)
class Running:
    """What the engine runs under a container name: the image's tags and digests."""

    image_id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]


Inspect = Callable[[str, str], dict[str, object] | None]
"""(kind, name) → the engine's inspect object, or None when there is none."""


def pinned_images(stack: str) -> list[Pinned]:
    """Every container of `stack` as the program declares it, with its pinned image reference."""
    from components.program import run

    config, secret_keys = read_stack_file(stack, PROJECT_DIR, notify=lambda _: None)
    return pins_of(run_offline(run, stack=stack, config=with_project_defaults(config), secret_keys=secret_keys))


def pins_of(result: OfflineRun) -> list[Pinned]:
    """The containers of a rendered stack, each with the reference of the image it is declared with."""
    references = {stand_in_image_id(r.inputs["name"]): r.inputs["name"] for r in result.of_type(IMAGE)}
    pins = []
    for container in result.of_type(CONTAINER):
        inputs = reveal(container.inputs)
        pins.append(Pinned(container.name, str(inputs["name"]), references.get(str(inputs["image"]), "?")))
    return pins


def docker_inspect(kind: str, name: str) -> dict[str, object] | None:
    """`docker <kind> inspect NAME`, or None if the engine has no such object."""
    docker = os.environ.get("DOCKER", "docker")
    command = [docker, kind, "inspect", name]  # a list, no shell: the name is an argument, never code
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        return None
    objects: list[dict[str, object]] = json.loads(done.stdout)
    return objects[0]


def running_image(container: str, inspect: Inspect) -> Running | None:
    """The image a container named `container` runs, or None if there is no such container."""
    found = inspect("container", container)
    if found is None:
        return None
    image_id = str(found["Image"])
    image = inspect("image", image_id) or {}
    tags = tuple(str(t) for t in image.get("RepoTags") or [])  # type: ignore[attr-defined]
    digests = tuple(str(d) for d in image.get("RepoDigests") or [])  # type: ignore[attr-defined]
    return Running(image_id, tags, digests)


def verdict(reference: str, running: Running | None) -> str:
    """`pinned`, `DIFFERS` or `absent`: a digest pin must match a digest, a tag pin a tag."""
    if running is None:
        return "absent"
    name, _, digest = reference.partition("@")
    if digest:
        repository = name.rsplit(":", 1)[0]
        return "pinned" if f"{repository}@{digest}" in running.digests else "DIFFERS"
    return "pinned" if reference in running.tags else "DIFFERS"


def report(pins: list[Pinned], inspect: Inspect = docker_inspect) -> tuple[list[str], bool]:
    """The table's lines, and whether every running container is on its pin."""
    lines = [f"{'container':<40} {'pinned':<40} {'running':<40} state"]
    on_pin = True
    for pin in pins:
        running = running_image(pin.container, inspect)
        state = verdict(pin.reference, running)
        on_pin &= state != "DIFFERS"
        shown = "-" if running is None else ", ".join(running.tags or running.digests or (running.image_id[:19],))
        lines.append(f"{pin.container:<40} {pin.reference:<40} {shown:<40} {state}")
    return lines, on_pin


def main(argv: list[str] | None = None) -> int:
    """Print the table for the stack named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("stack", help="the stack name, as in Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    lines, on_pin = report(pinned_images(args.stack))
    print("\n".join(lines))
    return 0 if on_pin else 1


if __name__ == "__main__":
    sys.exit(main())
