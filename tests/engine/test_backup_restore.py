"""The restore drill on the real CLI: back up, lose the backend, restore into a new one, plan nothing.

`tools/stack_backup.sh` (what `make backup` / `make restore` run) on a dynamic-provider program
(no bridged provider can be built here: docs/ENGINE.md); the state, the secrets provider and the
config's own secret are the real engine's.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.engine.conftest import Workspace
from tests.engine.test_engine_roundtrip import PROGRAM
from tests.support import PROJECT_DIR

SCRIPT = PROJECT_DIR / "tools" / "stack_backup.sh"


def _script(program: Workspace, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args], cwd=program.directory, env=env or program.env, capture_output=True, text=True, check=False
    )


def _deployed(program: Workspace) -> dict[str, str]:
    return {
        "value": program.ok("stack", "output", "value", "--show-secrets").strip(),
        "token": program.ok("config", "get", "apiToken").strip(),
    }


def test_a_backup_restores_into_an_empty_backend_and_the_next_up_changes_nothing(
    program: Workspace, tmp_path: Path
) -> None:
    (program.directory / "__main__.py").write_text(PROGRAM.replace("LABEL", "'drill'"))
    program.ok("stack", "init", "drill")
    program.ok("config", "set", "length", "8")
    program.ok("config", "set", "--secret", "apiToken", "operator-given-secret")
    program.ok("up", "--yes", "--skip-preview")
    before = _deployed(program)
    backup = tmp_path / "backup"
    made = _script(program, "backup", "drill", str(backup))
    assert made.returncode == 0, made.stderr
    assert (
        "operator-given-secret" not in (backup / "state.json").read_text() + (backup / "Pulumi.drill.yaml").read_text()
    )
    assert before["value"] not in (backup / "state.json").read_text(), "secrets stay encrypted in the backup"

    # The disaster: the backend and the checkout's stack file are gone.
    shutil.rmtree(tmp_path / "home" / "state")
    (tmp_path / "home" / "state").mkdir()
    (program.directory / "Pulumi.drill.yaml").unlink()
    restored = _script(program, "restore", "drill", str(backup))
    assert restored.returncode == 0, restored.stdout + restored.stderr

    program.ok("up", "--yes", "--expect-no-changes")
    assert _deployed(program) == before


def test_a_restore_refuses_without_the_passphrase_or_over_an_existing_stack(program: Workspace, tmp_path: Path) -> None:
    (program.directory / "__main__.py").write_text(PROGRAM.replace("LABEL", "'drill'"))
    program.ok("stack", "init", "drill")
    program.ok("config", "set", "length", "8")
    program.ok("up", "--yes", "--skip-preview")
    backup = tmp_path / "backup"
    assert _script(program, "backup", "drill", str(backup)).returncode == 0
    again = _script(program, "backup", "drill", str(backup))
    assert again.returncode == 1
    assert "exists" in again.stderr

    over = _script(program, "restore", "drill", str(backup))
    assert over.returncode == 1
    assert "already exists in this backend" in over.stderr
    without = {k: v for k, v in program.env.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    refused = _script(program, "restore", "drill", str(backup), env=without)
    assert refused.returncode == 1
    assert "PULUMI_CONFIG_PASSPHRASE" in refused.stderr
