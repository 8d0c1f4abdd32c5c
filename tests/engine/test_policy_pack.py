"""`pulumi preview --policy-pack DIR` under the built engine: the pack's verdict decides the run.

The CLI starts a Python pack through our language host (RunPlugin, engine/language-python).

No provider plugin can be built here (docs/ENGINE.md), so a program registers only dynamic
resources (type `pulumi-python:dynamic:Resource`). Every llmstack rule applies to a docker or
cloudflare resource type (its one stack-level policy too: it reads containers and networks), so
the llmstack pack can only be shown to load, run and pass here. That the engine enforces what a
pack reports is shown with a throwaway pack on the same pulumi-policy SDK (policy/.venv) with a
mandatory rule on the dynamic type.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.engine.conftest import Workspace
from tests.support import PROJECT_DIR

POLICY_DIR = PROJECT_DIR / "policy"
POLICY_VENV = POLICY_DIR / ".venv"

PROGRAM = """
import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Provider(ResourceProvider):
    def create(self, props):
        return CreateResult("thing-id", props)


class Thing(Resource):
    def __init__(self, name, size):
        super().__init__(Provider(), name, {"size": size})


Thing("thing", pulumi.Config().require_int("size"))
"""

# A mandatory rule on the dynamic type. Its limit comes from the environment the CLI was started
# with (which must reach the pack), and it says on stderr where it runs: the host must start it in
# the pack's directory and stream its output back to the CLI.
BLOCKER = """
import os
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

LIMIT = int(os.environ["ENGINE_TIER_SIZE_LIMIT"])
print(f"blocker pack runs in {Path.cwd().name}", file=sys.stderr, flush=True)


def validate(args, report_violation):
    if args.resource_type == "pulumi-python:dynamic:Resource" and args.props["size"] > LIMIT:
        report_violation(f"size {int(args.props['size'])} is over the limit {LIMIT}")


PolicyPack(
    "engine-tier-blocker",
    [ResourceValidationPolicy(name="small-things", description="Things stay small.", validate=validate)],
    enforcement_level=EnforcementLevel.MANDATORY,
)
"""


@pytest.fixture
def policy_venv() -> Path:
    """The pack's virtualenv (`make policy-venv`; `make test-engine` prepares it)."""
    if not (POLICY_VENV / "bin" / "python").exists():
        pytest.fail(f"{POLICY_VENV} is missing: run `make policy-venv`")
    return POLICY_VENV.resolve()


def _stack(program: Workspace, size: int) -> None:
    (program.directory / "__main__.py").write_text(PROGRAM)
    program.ok("stack", "init", "engine")
    program.ok("config", "set", "size", str(size))


def _blocker(tmp_path: Path, venv: Path) -> Path:
    pack = tmp_path / "blocker-pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\nversion: 0.0.7\n"
    )
    (pack / "__main__.py").write_text(BLOCKER)
    (pack / ".venv").symlink_to(venv)
    return pack


def test_the_llmstack_pack_loads_runs_and_passes_a_program(
    program: Workspace, policy_venv: Path, tmp_path: Path
) -> None:
    """The documented `pulumi preview --policy-pack policy`, on a copy of policy/ with its .venv."""
    pack = tmp_path / "policy"
    shutil.copytree(POLICY_DIR, pack, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    (pack / ".venv").symlink_to(policy_venv)
    version = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())["version"]
    _stack(program, 3)

    result = program.pulumi("preview", "--policy-pack", str(pack))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"llmstack-security@v{version} (local: {pack})" in output
    assert "failed to start" not in output


def test_a_mandatory_violation_blocks_preview_and_up(program: Workspace, policy_venv: Path, tmp_path: Path) -> None:
    """CLI → host → pack → enforcement, with a throwaway pack.

    The llmstack rules themselves cannot fire here: each applies to a docker or cloudflare resource
    type, whose provider plugins cannot be built (docs/ENGINE.md), and the pack has no stack policy.
    """
    pack = _blocker(tmp_path, policy_venv)
    _stack(program, 3)
    env = {**program.env, "ENGINE_TIER_SIZE_LIMIT": "2"}
    blocked = Workspace(program.directory, env)

    preview = blocked.pulumi("preview", "--policy-pack", str(pack))
    output = preview.stdout + preview.stderr
    assert preview.returncode != 0, output[-3000:]
    assert "engine-tier-blocker@v0.0.7" in output
    assert "[mandatory]  small-things" in output
    assert "size 3 is over the limit 2" in output
    assert "blocker pack runs in blocker-pack" in output, "the pack's stderr, from its own directory"

    up = blocked.pulumi("up", "--yes", "--policy-pack", str(pack))
    assert up.returncode != 0, (up.stdout + up.stderr)[-3000:]
    assert "size 3 is over the limit 2" in up.stdout + up.stderr
    assert "::thing" not in blocked.ok("stack", "export"), "a blocked up creates nothing"


def test_the_same_pack_passes_a_compliant_program(program: Workspace, policy_venv: Path, tmp_path: Path) -> None:
    """The block above is the rule's verdict, not a pack that fails whatever it sees."""
    pack = _blocker(tmp_path, policy_venv)
    _stack(program, 2)
    env = {**program.env, "ENGINE_TIER_SIZE_LIMIT": "2"}

    up = Workspace(program.directory, env).pulumi("up", "--yes", "--policy-pack", str(pack))

    output = up.stdout + up.stderr
    assert up.returncode == 0, output[-3000:]
    assert "engine-tier-blocker@v0.0.7" in output
    assert "over the limit" not in output
