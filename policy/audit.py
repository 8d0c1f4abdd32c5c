"""The checklist over the offline render: `python -m policy.audit --stack dev` (`make audit STACK=dev`).

Runs the program for `Pulumi.<stack>.yaml` the way `offline.render` does (Pulumi mocks, stand-in
providers; no CLI, Docker or cloud account), then every rule of `policy.rules` over every
registered resource. Prints one line per rule, PASS or FAIL, with the resource and message of each
failure. Exit code 1 when a mandatory rule fails, 2 when the stack cannot be rendered.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.engine import OfflineRun, ProgramFailedError, Registration, is_secret, run_offline
from offline.render import PROJECT_DIR, read_stack_file
from policy.egress import StackResource
from policy.props import Secret
from policy.rules import RULES, Rule


@dataclass(frozen=True, kw_only=True)
class Failure:
    """One violation of a rule by one resource."""

    resource: str
    """Logical name of the resource at fault."""
    message: str
    """What is wrong."""


@dataclass(frozen=True, kw_only=True)
class RuleResult:
    """A rule and what it found over every resource."""

    rule: Rule
    """The rule."""
    failures: tuple[Failure, ...]
    """Its violations; empty when it passed."""

    @property
    def passed(self) -> bool:
        """Whether no resource violates the rule."""
        return not self.failures


def rule_props(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Wire inputs as rules read them: each secret marker becomes a `Secret` value, where it sits."""
    return {key: _marked(value) for key, value in inputs.items()}


def evaluate(resources: Iterable[Registration], rules: Iterable[Rule] = RULES) -> list[RuleResult]:
    """Every rule over every resource.

    Rules read the inputs as the engine receives them (`Registration.wire`), where a secret
    element of a list stays one secret element: a plaintext value beside it is still seen.
    """
    prepared = [(resource, rule_props(resource.wire)) for resource in resources]
    stack = [StackResource(resource.name, resource.type, props) for resource, props in prepared]
    return [
        RuleResult(
            rule=rule,
            failures=tuple(Failure(resource=name, message=message) for name, message in rule.check_stack(stack))
            if rule.check_stack is not None
            else tuple(
                Failure(resource=resource.name, message=message)
                for resource, props in prepared
                for message in rule.check(resource.type, props)
            ),
        )
        for rule in rules
    ]


def render_stack_offline(stack: str, notify: Callable[[str], None], project_dir: Path = PROJECT_DIR) -> OfflineRun:
    """Run the program for `project_dir/Pulumi.<stack>.yaml` under the offline engine."""
    from components.program import run

    config, secret_keys = read_stack_file(stack, project_dir, notify)
    return run_offline(run, stack=stack, config=config, secret_keys=secret_keys)


def checklist(results: Iterable[RuleResult]) -> list[str]:
    """The printed checklist: one line per rule, then one indented line per failure."""
    lines = []
    for result in results:
        level = "mandatory" if result.rule.mandatory else "advisory"
        lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.rule.name:<30} {level:<9}  {result.rule.title}")
        lines += [f"      {failure.resource}: {failure.message}" for failure in result.failures]
    return lines


def mandatory_failures(results: Iterable[RuleResult]) -> list[RuleResult]:
    """The failed rules that block an update."""
    return [result for result in results if result.rule.mandatory and not result.passed]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="stack name: audits Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        rendered = render_stack_offline(args.stack, notify=lambda line: print(line, file=sys.stderr))
    except (FileNotFoundError, ProgramFailedError) as error:
        print(f"audit failed: {error}", file=sys.stderr)
        return 2
    return report(args.stack, rendered)


def report(stack: str, rendered: OfflineRun, write: Callable[[str], None] = print) -> int:
    """Write the checklist of a rendered stack; return the exit code (1 when a mandatory rule fails)."""
    results = evaluate(rendered.resources)
    write(f"llmstack security checklist, stack {stack} ({len(rendered.resources)} resources, offline render)")
    for line in checklist(results):
        write(line)
    blocking = mandatory_failures(results)
    advice = sum(1 for result in results if not result.rule.mandatory and not result.passed)
    write(f"audit: {len(blocking)} mandatory rule(s) failed, {advice} advisory rule(s) failed")
    return 1 if blocking else 0


def _marked(value: Any) -> Any:
    if is_secret(value):
        return Secret(_marked(value["value"]))
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_marked(item) for item in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
