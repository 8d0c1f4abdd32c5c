#!/usr/bin/env bash
# Builds the Pulumi engine this project runs from Go modules (no Pulumi download exists on our machines; the Go
# module proxy does) into a cache outside the repo, keyed by versions and by this folder's recipe, and prints the
# bin dir on stdout (everything else goes to stderr), so `export PATH="$(engine/build.sh):$PATH"` works.
# A second run finds the finished key and returns at once. Design and pins: docs/ENGINE.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Pins. The CLI is v3.274.0, not requirements.txt's 3.272.0: the proxy refuses pkg/v3@v3.272.0 (403) and
# sdk/v3@v3.272.0 needs a pulumi-cloud-sdk/go it refuses too. The CLI speaks to older Python SDKs.
PULUMI_VERSION=3.274.0
SDK_MODULE=github.com/pulumi/pulumi/sdk/v3

log() { echo "engine: $*" >&2; }

# The key names the versions, plus a hash of the recipe (go.mod/go.sum/sources/this script), so that changing any
# pin builds a fresh directory instead of trusting a stale one.
recipe_hash="$(cd "$here" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.sh' \) \
  -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
key="pulumi-${PULUMI_VERSION}-python-${PULUMI_VERSION}-${recipe_hash}"
cache="${LLMSTACK_ENGINE_CACHE:-$HOME/.cache/llmstack-engine}"
bin="$cache/$key/bin"

if [[ -f "$cache/$key/complete" ]]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { log "needs Go (go.mod says which): none on PATH"; exit 1; }
# The version stamped into the binaries must be the one the go.mod files build.
for mod in cli language-python; do
  grep -Eq "github.com/pulumi/pulumi/sdk/v3 v${PULUMI_VERSION}( |\$)" "$here/$mod/go.mod" ||
    { log "engine/$mod/go.mod does not build sdk/v3 v$PULUMI_VERSION"; exit 1; }
done

# Build into a scratch dir and rename it into place at the end: an interrupted build never looks finished.
mkdir -p "$cache"
work="$(mktemp -d "$cache/.build-$key.XXXXXX")"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # mktemp makes it 0700; the result is meant to be readable like any installed tool
mkdir -p "$work/bin"

# Release builds of Pulumi use these: static binaries, the pure-Go user lookup, no gRPC tracing tables.
# -mod=readonly: build exactly what go.sum pins, never re-resolve. nice: the machines have 2 shared cores.
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
build() { # build NAME MODULE_DIR PACKAGE VERSION_VAR
  local name="$1" dir="$2" pkg="$3" var="$4" start
  start=$(date +%s)
  log "building $name (minutes if Go's build cache is cold, seconds if warm)"
  (cd "$here/$dir" && nice go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X ${var}=v${PULUMI_VERSION}" -o "$work/bin/$name" "$pkg")
  log "built $name in $(( $(date +%s) - start ))s"
}

build pulumi cli github.com/pulumi/pulumi/pkg/v3/cmd/pulumi "$SDK_MODULE/go/common/version.Version"
build pulumi-language-python language-python . "$SDK_MODULE/go/common/version.Version"

# The host runs the program through this script, looked up beside the host; the dynamic-provider script lets
# pulumi.dynamic resources work. Both come from the sdk/v3 module zip at the pinned version (go.sum checks it).
sdk_dir="$(cd "$here/language-python" && go mod download -json "$SDK_MODULE" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[[ -n "$sdk_dir" ]] || { log "could not locate $SDK_MODULE in the module cache"; exit 1; }
install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$work/bin/"
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$work/bin/"

touch "$work/complete"
rm -rf "${cache:?}/$key"
mv "$work" "$cache/$key"
trap - EXIT
log "ready: $bin"
echo "$bin"
