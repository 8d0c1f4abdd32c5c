"""Shared fixtures: the program run under the offline engine (Pulumi mocks, a test double)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests that import LiteLLM in-process use its packaged model map, as the container does
# (components/render/litellm.py OFFLINE_ENV), instead of fetching one from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from components.program import run
from offline.engine import OfflineRun, run_offline
from tests.support import namespaced

TESTS_DIR = Path(__file__).resolve().parent


TIERS = ("unit", "mocks", "policy", "live", "docker", "engine")
"""The test tiers, one folder each under tests/; a test's folder is its marker (`-m "not live"`)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its tier, the folder under tests/ it lives in."""
    for item in items:
        tier = item.path.relative_to(TESTS_DIR).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in one of the tier folders {', '.join(TIERS)}")
        item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def deploy() -> Callable[..., OfflineRun]:
    """Run the program for a stack config given as plain keys: `deploy(exposure="lan", ...)`."""

    def _deploy(stack: str = "test", **config: object) -> OfflineRun:
        return run_offline(run, stack=stack, config=namespaced(config))

    return _deploy
