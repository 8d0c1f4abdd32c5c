"""The offline audit (policy/audit.py, `make audit`): one PASS/FAIL line per rule."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from policy.audit import checklist, evaluate, main, mandatory_failures, report
from policy.rules import RULES
from tests.policy.resources import (
    Deploy,
    weakened,
)
from tests.support import PROJECT_DIR


def test_the_audit_prints_one_line_per_rule_and_passes_the_dev_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line for line in lines if line.startswith(("PASS ", "FAIL "))]
    assert [line.split()[1] for line in verdicts] == [rule.name for rule in RULES]
    assert all(line.startswith("PASS") for line in verdicts if "advisory" not in line)


def test_the_audit_names_the_resource_at_fault_and_exits_1(deploy: Deploy) -> None:
    def make_privileged(inputs: dict[str, Any]) -> None:
        inputs["privileged"] = True

    printed: list[str] = []
    assert report("dev", weakened(deploy(), "gateway-container", make_privileged), write=printed.append) == 1
    at = printed.index(next(line for line in printed if " no-privileged-containers " in line))
    assert printed[at].startswith("FAIL")
    assert printed[at + 1].strip().startswith("gateway-container: privileged is true")


def test_advice_alone_does_not_fail_the_audit(deploy: Deploy) -> None:
    results = evaluate(deploy().resources)
    assert [line for line in checklist(results) if line.startswith("FAIL")] != []
    assert mandatory_failures(results) == []


def test_the_audit_of_an_unknown_stack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "no-such-stack"]) == 2
    assert "Pulumi.no-such-stack.yaml" in capsys.readouterr().err


def test_make_audit_command_runs_from_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "policy.audit", "--stack", "dev"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit: 0 mandatory rule(s) failed" in done.stdout
