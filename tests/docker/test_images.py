"""`make images` on the real engine: the deployed dev stack is on its pins, and a moved pin is reported.

The images are the stand-ins, built offline under the real references (tests/docker/images.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from offline.engine import OfflineRun
from tests.docker.conftest import Stack, dev_config
from tests.support import PROJECT_DIR
from tools.images import pins_of, report


def _states(lines: list[str]) -> dict[str, str]:
    """Container name → the table's state column."""
    return {line.split()[0]: line.split()[-1] for line in lines[1:]}


def test_every_container_of_the_deployed_stack_runs_its_pinned_image(dev: Stack) -> None:
    lines, on_pin = report(pins_of(dev.run))
    states = _states(lines)
    assert on_pin
    assert {dev.container_name(name) for name in dev.serving()} <= set(states)
    assert set(states.values()) == {"pinned"}, lines


def test_a_moved_pin_is_reported_as_differing(dev: Stack, render_stack: Callable[..., OfflineRun]) -> None:
    moved = render_stack("dev", **{**dev_config(), "nginxImage": "nginx:1.29.4"})
    lines, on_pin = report(pins_of(moved))
    states = _states(lines)
    assert not on_pin
    assert states.pop(dev.container_name("edge-container")) == "DIFFERS"
    # nginx's file carrier (#22) is created from the nginx image too: a new pin replaces it as well.
    assert states.pop(dev.container_name("edge-files-carrier")) == "DIFFERS"
    assert set(states.values()) == {"pinned"}


def test_make_images_for_the_dev_stack_file(dev: Stack) -> None:
    # The dev fixture runs exactly Pulumi.dev.yaml, so the command line sees the same stack.
    done = subprocess.run(
        [sys.executable, "-m", "tools.images", "dev"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _states(done.stdout.splitlines())[dev.container_name("edge-container")] == "pinned"
    absent = subprocess.run(
        [sys.executable, "-m", "tools.images", "lan"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    assert absent.returncode == 0
    assert set(_states(absent.stdout.splitlines()).values()) == {"absent"}
