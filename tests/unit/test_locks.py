"""The hash locks are closed: installed with --no-deps, a dependency missing from a lock is named."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.check_locks import check, main

ROOT = Path(__file__).resolve().parents[2]
DEV_LOCK = ROOT / "requirements-dev.txt"


def test_runtime_and_dev_locks_hold_every_dependency() -> None:
    assert check(ROOT / "requirements.txt", ROOT / "requirements.in") == []
    assert check(DEV_LOCK, ROOT / "requirements-dev.in") == []


def test_sslyze_lock_holds_every_dependency() -> None:
    (site,) = (ROOT / ".venv-sslyze" / "lib").glob("python3*/site-packages")
    assert check(ROOT / "requirements-sslyze.txt", ROOT / "requirements-sslyze.in", [str(site)]) == []


def _without(lock_text: str, name: str) -> str:
    """The lock with `name`'s entry (its pin line and hash lines) cut out."""
    entry = re.compile(rf"^{re.escape(name)}==[^\n]*\n(?:[ #][^\n]*\n)*", re.MULTILINE)
    cut, count = entry.subn("", lock_text)
    assert count == 1
    return cut


@pytest.mark.parametrize(
    ("removed", "needed_by"),
    [("httpx", "litellm==1.108.7"), ("h2", "httpx==0.28.1"), ("grpcio", "pulumi==3.272.0")],
)
def test_a_lock_missing_a_dependency_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], removed: str, needed_by: str
) -> None:
    lock = tmp_path / "requirements-dev.txt"
    lock.write_text(_without(DEV_LOCK.read_text(), removed))
    assert main([f"{lock}={ROOT / 'requirements-dev.in'}"]) == 1
    message = capsys.readouterr().err
    assert f"missing {removed} (required by " in message
    assert needed_by in message.split("required by ", 1)[1]
    assert message.count("missing ") == 1


def test_check_locks_runs_as_a_command() -> None:
    pairs = f"{DEV_LOCK}={ROOT / 'requirements-dev.in'}"
    result = subprocess.run([sys.executable, "-m", "tools.check_locks", pairs], cwd=ROOT, check=False)
    assert result.returncode == 0


def test_an_environment_without_the_locked_versions_is_refused_not_passed(tmp_path: Path) -> None:
    """Judged against an empty site, every package would seem to need nothing: that must fail."""
    with pytest.raises(ValueError, match=r"cannot judge .*litellm==1\.108\.7 is installed as nothing"):
        check(DEV_LOCK, ROOT / "requirements-dev.in", [str(tmp_path)])
