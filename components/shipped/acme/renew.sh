#!/bin/sh
# The ACME container's loop (busybox sh in the lego image). Obtains the edge's certificate once,
# then renews it when it enters its last LLMSTACK_RENEW_DAYS days, checking every
# LLMSTACK_CHECK_SECONDS; a failed attempt is retried after LLMSTACK_RETRY_SECONDS while nginx
# keeps the certificate it has. "$@" are lego's global options from the render.
set -u
lego=${LLMSTACK_LEGO:-/lego}
state=$LLMSTACK_STATE_DIR
live=$LLMSTACK_LIVE_FILE
crt="$state/certificates/$LLMSTACK_CERT_NAME.crt"
key="$state/certificates/$LLMSTACK_CERT_NAME.key"
names_file="$state/llmstack-names"
order="$LLMSTACK_NAMES at $LLMSTACK_DIRECTORY"
metrics="${live%/*}/acme.prom"
trap 'exit 0' TERM INT

log() { echo "llmstack-acme: $*" >&2; }

# Key and chain in one file, replaced by a rename: nginx never reads a new chain with an old key.
# 0640: the group is nginx's (the container's gid), so the non-root nginx reads it; no other uid does.
install_live() {
    (umask 027 && cat "$crt" "$key" >"$live.new") || return 1
    if cmp -s "$live.new" "$live"; then
        rm -f "$live.new"
        return 0
    fi
    mv -f "$live.new" "$live" && log "installed a new certificate for $LLMSTACK_NAMES"
}

# For monitoring (Prometheus textfile format): the last attempt's outcome and when one last worked.
record() {
    now=$(date +%s)
    if [ "$1" = 1 ]; then echo "$now" >"$state/last-success"; fi
    last=$(cat "$state/last-success" 2>/dev/null || echo 0)
    {
        echo "# HELP llmstack_acme_last_attempt_success Whether the last obtain or renewal attempt worked."
        echo "# TYPE llmstack_acme_last_attempt_success gauge"
        echo "llmstack_acme_last_attempt_success $1"
        echo "# HELP llmstack_acme_last_attempt_timestamp_seconds When lego last ran."
        echo "# TYPE llmstack_acme_last_attempt_timestamp_seconds gauge"
        echo "llmstack_acme_last_attempt_timestamp_seconds $now"
        echo "# HELP llmstack_acme_last_success_timestamp_seconds When an attempt last worked (0: never)."
        echo "# TYPE llmstack_acme_last_success_timestamp_seconds gauge"
        echo "llmstack_acme_last_success_timestamp_seconds $last"
    } >"$metrics.new" && mv -f "$metrics.new" "$metrics"
}

while :; do
    # Changed names or another CA (staging to production) need a new order; the same ones only a
    # renewal when due (ACME rate limits).
    if [ -s "$crt" ] && [ "$(cat "$names_file" 2>/dev/null)" = "$order" ]; then
        "$lego" "$@" renew --days "$LLMSTACK_RENEW_DAYS" --no-random-sleep
    else
        "$lego" "$@" run
    fi
    status=$?
    if [ "$status" = 0 ] && echo "$order" >"$names_file" && install_live; then
        record 1
        pause=$((LLMSTACK_CHECK_SECONDS + ${RANDOM:-0} % (LLMSTACK_CHECK_SECONDS / 10 + 1)))
    else
        if [ -s "$live" ]; then
            log "renewal FAILED (lego exit $status): nginx keeps serving the current certificate; retry in ${LLMSTACK_RETRY_SECONDS}s"
        else
            log "no certificate yet (lego exit $status): retry in ${LLMSTACK_RETRY_SECONDS}s"
        fi
        record 0
        pause=$LLMSTACK_RETRY_SECONDS
    fi
    # In the background so that `docker stop` (SIGTERM) ends the wait at once.
    sleep "$pause" &
    wait $!
done
