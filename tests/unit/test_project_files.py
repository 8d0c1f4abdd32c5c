"""The project files users of Pulumi rely on agree with the code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from components.settings.keys import DECLARED_KEYS, SECRET_KEYS, STRUCTURED_KEYS, pulumi_yaml_declarations
from tests.support import PROJECT_DIR
from tools import config_reference


def test_pulumi_yaml_declares_every_key_with_type_description_and_default() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "llmstack"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert project["config"] == pulumi_yaml_declarations()
    for declaration in project["config"].values():
        assert {"type", "description", "default"} <= set(declaration)


def test_secret_keys_are_documented_where_users_look() -> None:
    pulumi_yaml = (PROJECT_DIR / "Pulumi.yaml").read_text()
    reference = (PROJECT_DIR / "docs/CONFIGURATION.md").read_text()
    for key in (*SECRET_KEYS, *STRUCTURED_KEYS):
        assert f"llmstack:{key.name}" in pulumi_yaml
        assert f"`{key.name}`" in reference


def test_the_configuration_reference_is_the_key_table() -> None:
    written = (PROJECT_DIR / "docs/CONFIGURATION.md").read_text()
    assert written == config_reference.render(), "regenerate it: python -m tools.config_reference"
    missing = [key.name for key in DECLARED_KEYS if f"| `{key.name}` |" not in written]
    assert missing == []
    assert "docs/CONFIGURATION.md" in (PROJECT_DIR / "README.md").read_text()


def test_dev_stack_is_the_laptop_default() -> None:
    dev = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    assert dev["llmstack:exposure"] == "local"
    assert dev["llmstack:gpus"] == "none"
    assert len(dev["llmstack:models"]) == 1


def test_make_up_without_the_pulumi_cli_says_what_is_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"  # a PATH with the tools make needs, and no pulumi
    bin_dir.mkdir()
    for tool in ("bash", "make"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    result = subprocess.run(
        ["make", "-s", "pulumi-cli"],
        cwd=PROJECT_DIR,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "the Pulumi CLI (`pulumi`) is not on PATH" in result.stderr
    assert "command not found" not in result.stderr
