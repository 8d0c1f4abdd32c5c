"""Engine tier: the real Pulumi CLI (built from Go modules by `make engine`) runs real programs.

What runs: `pulumi` v3.274.0 and the project's Python language host (engine/), with a file backend
and a passphrase in a temporary directory, no plugin downloads. The docker, random and tls provider
plugins cannot be built here (the Go module proxy refuses their modules: docs/ENGINE.md), so this
tier runs what needs no provider: the project's own program up to its config validation, and a
program with a dynamic provider that proves state, diffs and secrets round-trip through the engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live.sandbox import in_sandbox
from tests.support import PROJECT_DIR

VENV = PROJECT_DIR / ".venv"
PASSPHRASE = "llmstack-engine-tier"


@pytest.fixture(scope="session")
def engine_bin() -> Path:
    """The engine's bin directory, built by engine/build.sh if it is not yet (a no-op when it is)."""
    if in_sandbox():
        pytest.skip("the engine tier runs on its own: `make test-engine` (it may build the engine first)")
    result = subprocess.run(
        [str(PROJECT_DIR / "engine" / "build.sh")], capture_output=True, text=True, check=False, timeout=3600
    )
    assert result.returncode == 0, f"make engine failed:\n{result.stderr[-3000:]}"
    return Path(result.stdout.strip())


@dataclass(frozen=True)
class Workspace:
    """A project directory with its own backend, run by the real CLI."""

    directory: Path
    env: dict[str, str]

    def pulumi(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS --non-interactive` in the project directory; never raises on failure."""
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def ok(self, *args: str, timeout: float = 300) -> str:
        """`pulumi ARGS`, which must succeed; its stdout."""
        result = self.pulumi(*args, timeout=timeout)
        assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout


def workspace_env(engine_bin: Path, home: Path) -> dict[str, str]:
    """The CLI's environment: engine on PATH, no downloads, no update check, a local backend."""
    (home / "state").mkdir(parents=True)
    return {
        "PATH": f"{engine_bin}:{os.environ['PATH']}",
        "HOME": str(home),
        "PULUMI_HOME": str(home / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{home / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_SUPPRESS_COPILOT_LINK": "true",
        "NO_COLOR": "1",
    }


@pytest.fixture
def project(engine_bin: Path, tmp_path: Path) -> Workspace:
    """A copy of this project (its tracked files) with its virtualenv, and a fresh backend."""
    copy = tmp_path / "llmstack"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_DIR,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = PROJECT_DIR / name
        if source.is_file() and not source.is_symlink():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    (copy / ".venv").symlink_to(VENV.resolve())
    return Workspace(copy, workspace_env(engine_bin, tmp_path / "home"))


@pytest.fixture
def program(engine_bin: Path, tmp_path: Path) -> Workspace:
    """An empty program directory (Pulumi.yaml on this project's virtualenv) and a fresh backend."""
    directory = tmp_path / "program"
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(
        f"name: engine-tier\nruntime:\n  name: python\n  options:\n    virtualenv: {VENV.resolve()}\n"
    )
    return Workspace(directory, workspace_env(engine_bin, tmp_path / "home"))
