#!/usr/bin/env bash
# Smoke test of the engine that engine/build.sh builds: the CLI, the Python language host and a provider plugin
# working together with nothing downloaded. A throwaway program in a temp dir, a file backend there too:
# version, plugin ls, preview, up, up --expect-no-changes (proves state and diff round-trip), destroy.
# The provider is the Python SDK's dynamic provider (pulumi-resource-pulumi-python): the random/tls/docker
# provider modules are refused by the Go module proxy (docs/ENGINE.md), so no bridged plugin exists to test.
# Usage: engine/smoke.sh [VIRTUALENV]   (a virtualenv holding the pulumi SDK; default: this checkout's .venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "${1:-$here/../.venv}" && pwd)"
[[ -x "$venv/bin/python" ]] || { echo "smoke: no python in $venv (make venv)" >&2; exit 1; }

bin="$("$here/build.sh")"
export PATH="$bin:$PATH"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# No plugin downloads (they fail here anyway, slowly), no update check, and a PULUMI_HOME of our own so the
# user's ~/.pulumi (credentials, plugin cache) neither helps nor gets written.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_HOME="$tmp/home" PULUMI_BACKEND_URL="file://$tmp/state" PULUMI_CONFIG_PASSPHRASE=smoke
mkdir -p "$tmp/state" "$tmp/prog"

cat > "$tmp/prog/Pulumi.yaml" <<YAML
name: engine-smoke
runtime:
  name: python
  options:
    virtualenv: $venv
YAML
cat > "$tmp/prog/__main__.py" <<'PY'
import secrets

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class TokenProvider(ResourceProvider):
    # Numbers cross the wire as floats: int() before use.
    def create(self, props):
        return CreateResult(secrets.token_hex(4), {**props, "value": secrets.token_hex(int(props["length"]))})


class Token(Resource):
    value: pulumi.Output[str]

    def __init__(self, name: str, length: int) -> None:
        super().__init__(TokenProvider(), name, {"length": length, "value": None})


config = pulumi.Config()
token = Token("smoke", config.require_int("length"))
pulumi.export("length", token.length)  # type: ignore[attr-defined]
pulumi.export("value", pulumi.Output.secret(token.value))
# A secret config value must reach the program as a secret (PULUMI_CONFIG_SECRET_KEYS).
pulumi.export("passphrase_is_secret", pulumi.Output.is_secret(config.require_secret("passphrase")))
PY

cd "$tmp/prog"
set -x
pulumi version
pulumi plugin ls
pulumi stack init smoke --non-interactive
pulumi config set length 16
pulumi config set --secret passphrase hunter2
pulumi preview --non-interactive
pulumi up --yes --non-interactive
pulumi up --yes --non-interactive --expect-no-changes
test "$(pulumi stack output length)" = 16
test "$(pulumi stack output passphrase_is_secret)" = true
pulumi destroy --yes --non-interactive
