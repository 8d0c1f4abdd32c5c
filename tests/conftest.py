"""Shared fixtures: the program run under the offline engine (Pulumi mocks, a test double)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

# Tests that import LiteLLM in-process use its packaged model map, as the container does
# (components/render/litellm.py OFFLINE_ENV), instead of fetching one from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from components.program import run
from offline.engine import OfflineRun, run_offline
from tests.support import namespaced


@pytest.fixture
def deploy() -> Callable[..., OfflineRun]:
    """Run the program for a stack config given as plain keys: `deploy(exposure="lan", ...)`."""

    def _deploy(stack: str = "test", **config: object) -> OfflineRun:
        return run_offline(run, stack=stack, config=namespaced(config))

    return _deploy
