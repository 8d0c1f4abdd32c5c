"""Offline render, like `helm template`: `python -m offline.render --stack dev --out DIR`.

Runs the program under Pulumi mocks (no Pulumi CLI, Docker or cloud account) with
`Pulumi.<stack>.yaml` and writes:
- `DIR/resources.json`: every resource `pulumi up` would register (secrets as "[secret]");
- `DIR/containers/<resource name>/<absolute path>`: every file a container receives, exact bytes
  (its uploads, and the files a never-started carrier puts in a volume it mounts), and
  `DIR/containers/<resource name>/env.json`: its environment;
- `DIR/outputs.json`: the stack outputs.
Secrets in `containers/` and `outputs.json` are this render's own fresh stand-ins, consistent
across files, so the rendered files can be run for real. Encrypted stack config is replaced by
stand-ins too, and the render says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from offline.engine import OfflineRun, ProgramFailedError, Registration, redact, reveal, run_offline
from offline.standins import certificate_pair

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONTAINER_TYPE = "docker:index/container:Container"


def read_stack_config(stack_file: Path, notify: Callable[[str], None]) -> tuple[dict[str, str], frozenset[str]]:
    """Config of a stack file as the engine passes it: namespaced keys → strings; which are secret."""
    document = yaml.safe_load(stack_file.read_text()) or {}
    config: dict[str, Any] = document.get("config") or {}
    values: dict[str, str] = {}
    secret: set[str] = set()
    pair: tuple[str, str] | None = None
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            pair = pair or certificate_pair("llmstack.invalid")
            values[key] = _stand_in_secret(key, pair)
            secret.add(key)
            notify(f"render: {key} is encrypted in {stack_file.name}; using a generated stand-in")
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value)
    return values, frozenset(secret)


def with_project_defaults(config: dict[str, str], project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """`config` plus every `Pulumi.yaml` default it does not set, as the Pulumi CLI passes them.

    The CLI hands a program each declared default as if the stack had set it (JSON for arrays,
    `true`/`false` for booleans); mocks do not, so the render adds them to run the program as
    `pulumi up` does (tests/engine/test_config_errors.py saw the difference).
    """
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    defaults = {
        key: _as_cli_string(declaration["default"])
        for key, declaration in (project.get("config") or {}).items()
        if isinstance(declaration, dict) and "default" in declaration
    }
    return {**defaults, **config}


def _as_cli_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _stand_in_secret(key: str, pair: tuple[str, str]) -> str:
    import secrets

    if key.endswith(":tlsCertificate"):
        return pair[0]
    if key.endswith(":tlsPrivateKey"):
        return pair[1]
    return secrets.token_urlsafe(32)


def render_stack(
    stack: str, out: Path, notify: Callable[[str], None] = print, project_dir: Path = PROJECT_DIR
) -> OfflineRun:
    """Render `project_dir/Pulumi.<stack>.yaml` into `out`."""
    return render_config(stack, out, *read_stack_file(stack, project_dir, notify), notify=notify)


def read_stack_file(
    stack: str, project_dir: Path, notify: Callable[[str], None]
) -> tuple[dict[str, str], frozenset[str]]:
    """The config of `project_dir/Pulumi.<stack>.yaml`."""
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise FileNotFoundError(f"no stack file {stack_file.name} in {project_dir}")
    return read_stack_config(stack_file, notify)


def render_config(
    stack: str,
    out: Path,
    config: dict[str, str],
    secret_keys: frozenset[str] = frozenset(),
    *,
    notify: Callable[[str], None] = print,
    seed: bytes | None = None,
) -> OfflineRun:
    """Render a stack from config given directly (namespaced keys → raw strings) into `out`."""
    from components.program import run

    config = with_project_defaults(config)
    result = run_offline(run, stack=stack, config=config, secret_keys=secret_keys, seed=seed)
    write_render(result, out)
    if result.secret_outputs:
        notify(f"render: secret outputs (stand-in values in outputs.json): {', '.join(sorted(result.secret_outputs))}")
    return result


def write_render(result: OfflineRun, out: Path) -> None:
    """Write the three artefacts of a render into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    resources = [
        {"type": r.type, "name": r.name, "parent": r.parent, "inputs": redact(r.inputs), "options": r.options}
        for r in result.resources
    ]
    _write_json(out / "resources.json", resources)
    _write_json(out / "outputs.json", result.outputs)
    carried = _carried_files(result)
    for container in result.of_type(CONTAINER_TYPE):
        _write_container(container, out / "containers" / container.name, carried)


def _carried_files(result: OfflineRun) -> dict[str, list[dict[str, Any]]]:
    """Volume name -> the uploads a never-started carrier puts in it (components/delivered_files.py)."""
    carried: dict[str, list[dict[str, Any]]] = {}
    for container in result.of_type(CONTAINER_TYPE):
        inputs = reveal(container.inputs)
        if inputs.get("start", True) is False:
            for volume in inputs.get("volumes") or []:
                carried.setdefault(str(volume.get("volumeName")), []).extend(inputs.get("uploads") or [])
    return carried


def _write_container(container: Registration, directory: Path, carried: dict[str, list[dict[str, Any]]]) -> None:
    """Its uploads, and the files carriers put in the volumes it mounts: what it reads at those paths."""
    inputs = reveal(container.inputs)
    directory.mkdir(parents=True, exist_ok=True)
    mounted = [
        upload
        for volume in inputs.get("volumes") or []
        if inputs.get("start", True) is not False
        for upload in carried.get(str(volume.get("volumeName")), [])
    ]
    for upload in [*(inputs.get("uploads") or []), *mounted]:
        target = directory / upload["file"].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(upload["content"])
        target.chmod(int(upload.get("permissions") or "0644", 8))
    env = dict(line.split("=", 1) for line in inputs.get("envs") or [])
    _write_json(directory / "env.json", env)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="stack name: renders Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="directory to write the render into")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        result = render_stack(args.stack, args.out)
    except (FileNotFoundError, ProgramFailedError) as error:
        print(f"render failed: {error}", file=sys.stderr)
        return 2
    print(f"render: {len(result.resources)} resources for stack {args.stack} written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
