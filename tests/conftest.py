"""Shared fixtures: the program run under the offline engine (Pulumi mocks, a test double)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.program import run
from offline.engine import OfflineRun, run_offline
from tests.support import namespaced


@pytest.fixture
def deploy() -> Callable[..., OfflineRun]:
    """Run the program for a stack config given as plain keys: `deploy(exposure="lan", ...)`."""

    def _deploy(stack: str = "test", **config: object) -> OfflineRun:
        return run_offline(run, stack=stack, config=namespaced(config))

    return _deploy
