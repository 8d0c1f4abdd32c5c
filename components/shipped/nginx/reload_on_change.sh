#!/bin/sh
# Runs beside nginx in its container: when any watched file changes, nginx reloads gracefully
# (SIGHUP: new workers take new connections, old ones finish their requests and streams). A file
# nginx cannot load leaves it on the files it has and logs why.
# Arguments: seconds between checks, nginx's master PID (1 in the container), then the files or
# directories to watch (every file under a directory counts). Writers replace files by rename, so a
# check never sees half a file.
set -u
interval=$1
master=$2
shift 2
# One line per file (checksum, size, path): a change, a new file or a removed one changes it.
# It fails when a path is missing (not only the pipeline's last command: no pipefail in sh).
fingerprint() {
    found=$(find "$@" -type f -exec cksum {} +) || return 1
    printf '%s\n' "$found" | sort
}
last=$(fingerprint "$@" 2>/dev/null)
echo "llmstack: watching $* every ${interval}s for a graceful reload" >&2
while sleep "$interval"; do
    # A path missing for a moment (a volume being written) is no change: check again later.
    now=$(fingerprint "$@" 2>/dev/null) || continue
    [ "$now" = "$last" ] && continue
    last=$now
    kill -HUP "$master" && echo "llmstack: $* changed; nginx reloads gracefully" >&2
done
