#!/usr/bin/env bash
# Back up or restore one stack: what a restore needs and nothing more (docs/OPERATIONS.md).
#
#   tools/stack_backup.sh backup  STACK DIR   # DIR must not exist yet
#   tools/stack_backup.sh restore STACK DIR   # into the current backend (PULUMI_BACKEND_URL), which must not have STACK
#
# Run in the project directory. A backup holds the stack's state as `pulumi stack export` writes it
# (every secret still encrypted by the stack's secrets provider) and Pulumi.<STACK>.yaml (the
# configuration, with the passphrase provider's salt and the operator's own secrets, encrypted).
# Neither is readable without the passphrase (PULUMI_CONFIG_PASSPHRASE or _FILE), which is not in it:
# keep the passphrase elsewhere, e.g. a password manager.
set -euo pipefail

usage() { echo "usage: $0 backup|restore STACK DIR" >&2; exit 2; }
[ $# -eq 3 ] || usage
action=$1 stack=$2 dir=$3
config="Pulumi.${stack}.yaml"
[ -f Pulumi.yaml ] || { echo "$0: run it in the project directory (no Pulumi.yaml here)" >&2; exit 2; }

backup() {
  if [ -e "$dir" ]; then echo "backup: $dir exists; choose a new directory" >&2; exit 1; fi
  [ -f "$config" ] || { echo "backup: no $config here" >&2; exit 1; }
  mkdir -p "$dir.partial"
  pulumi stack export --stack "$stack" --file "$dir.partial/state.json" --non-interactive
  cp "$config" "$dir.partial/$config"
  { echo "stack: $stack"; echo "taken: $(date -u +%Y-%m-%dT%H:%M:%SZ)"; pulumi version; } >"$dir.partial/MANIFEST"
  mv "$dir.partial" "$dir"
  echo "backup: $dir (state.json, $config, MANIFEST); secrets inside stay encrypted"
}

restore() {
  [ -f "$dir/state.json" ] && [ -f "$dir/$config" ] || { echo "restore: $dir holds no backup of $stack" >&2; exit 1; }
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "restore: set PULUMI_CONFIG_PASSPHRASE (or _FILE) to the passphrase the backup was made with" >&2
    exit 1
  fi
  if pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
    echo "restore: stack $stack already exists in this backend; restore into an empty one" >&2
    exit 1
  fi
  if [ -f "$config" ] && ! cmp -s "$config" "$dir/$config"; then
    echo "restore: $config here differs from the backup's; move it away first (the backup's carries the salt)" >&2
    exit 1
  fi
  cp "$dir/$config" "$config"
  # The config file's encryption salt makes the new stack's secrets provider the old one.
  pulumi stack init "$stack" --secrets-provider passphrase --non-interactive
  pulumi stack import --stack "$stack" --file "$dir/state.json" --non-interactive
  echo "restore: $stack is back; 'pulumi preview' should plan no change"
}

case "$action" in
  backup) backup ;;
  restore) restore ;;
  *) usage ;;
esac
