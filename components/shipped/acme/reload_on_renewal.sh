#!/bin/sh
# Runs beside nginx in its container: when the certificate file changes, nginx reloads gracefully
# (SIGHUP: new workers take new connections, old ones finish their requests and streams). A file
# nginx cannot load leaves it on the old certificate and logs why.
# Arguments: the certificate file, seconds between checks, nginx's master PID (1 in the container).
set -u
file=$1
interval=$2
master=${3:-1}
last=$(cksum <"$file" 2>/dev/null)
while sleep "$interval"; do
    now=$(cksum <"$file" 2>/dev/null) || continue
    [ "$now" = "$last" ] && continue
    last=$now
    kill -HUP "$master" && echo "llmstack: the certificate changed; nginx reloads gracefully" >&2
done
