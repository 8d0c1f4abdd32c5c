"""The built engine keeps state, plans diffs and guards secrets (a dynamic-provider program).

No bridged provider can be built here, so the resource is a Python dynamic provider: the CLI, the
language host, the SDK and the provider protocol are the real ones.
"""

from __future__ import annotations

import json

from tests.engine.conftest import Workspace

PROGRAM = """
import secrets

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider


class TokenProvider(ResourceProvider):
    def create(self, props):
        return CreateResult(secrets.token_hex(4), {**props, "value": secrets.token_hex(int(props["length"]))})

    def diff(self, _id, olds, news):
        changed = [key for key in ("length", "label") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=["length"] if "length" in changed else [])

    def update(self, _id, olds, news):
        from pulumi.dynamic import UpdateResult
        return UpdateResult({**news, "value": olds["value"]})


class Token(Resource):
    value: pulumi.Output[str]

    def __init__(self, name, length, label):
        secret = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(TokenProvider(), name, {"length": length, "label": label, "value": None}, opts=secret)


config = pulumi.Config()
token = Token("token", config.require_int("length"), LABEL)
pulumi.export("value", pulumi.Output.secret(token.value))
pulumi.export("label", token.label)
"""


def _write(program: Workspace, label: str) -> None:
    (program.directory / "__main__.py").write_text(PROGRAM.replace("LABEL", label))


def _steps(program: Workspace) -> dict[str, str]:
    """What `pulumi preview` plans, per resource type: create, same, update, replace, delete."""
    preview = json.loads(program.ok("preview", "--json", "--show-sames"))
    return {step["urn"].rsplit("::", 1)[1]: step["op"] for step in preview["steps"]}


def test_a_second_up_plans_no_change_and_secrets_stay_secret(program: Workspace) -> None:
    _write(program, "'stable'")
    program.ok("stack", "init", "engine")
    program.ok("config", "set", "length", "8")
    program.ok("up", "--yes")
    program.ok("up", "--yes", "--expect-no-changes")
    assert _steps(program) == {"engine-tier-engine": "same", "token": "same"}
    assert program.ok("stack", "output", "value").strip() == "[secret]"
    value = program.ok("stack", "output", "value", "--show-secrets").strip()
    assert len(value) == 16
    state = program.ok("stack", "export")
    assert value not in state, "the state file holds the secret only encrypted"


def test_a_changed_input_plans_an_update_or_a_replacement(program: Workspace) -> None:
    _write(program, "'one'")
    program.ok("stack", "init", "engine")
    program.ok("config", "set", "length", "8")
    program.ok("up", "--yes")
    _write(program, "'two'")
    assert _steps(program)["token"] == "update"
    program.ok("config", "set", "length", "12")
    assert _steps(program)["token"] == "replace"


def test_expect_no_changes_fails_when_every_up_changes_an_input(program: Workspace) -> None:
    """The check the engine tier relies on can fail: an input that differs on every run."""
    _write(program, "str(__import__('time').time_ns())")
    program.ok("stack", "init", "engine")
    program.ok("config", "set", "length", "8")
    program.ok("up", "--yes")
    second = program.pulumi("up", "--yes", "--expect-no-changes")
    assert second.returncode != 0
    assert "no changes were expected" in (second.stdout + second.stderr).lower()


def test_destroy_removes_what_up_created(program: Workspace) -> None:
    _write(program, "'stable'")
    program.ok("stack", "init", "engine")
    program.ok("config", "set", "length", "8")
    program.ok("up", "--yes")
    program.ok("destroy", "--yes")
    resources = json.loads(program.ok("stack", "export"))["deployment"].get("resources") or []
    assert resources == []
