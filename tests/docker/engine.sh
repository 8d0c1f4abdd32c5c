#!/usr/bin/env bash
# A Docker engine for the docker test tier, started and stopped by hand (no systemd here).
#
#   tests/docker/engine.sh install   apt-get install docker.io debootstrap iptables (Debian 12)
#   tests/docker/engine.sh up        start dockerd in the background, PID in $STATE/dockerd.pid
#   tests/docker/engine.sh down      stop that dockerd by its PID and undo what it left behind:
#                                    the filter/nat tables as they were before `up` (DOCKER* chains,
#                                    MASQUERADE, FORWARD policy), docker0 and leftover br-* bridges,
#                                    ip_forward restored to its value before `up`
#   tests/docker/engine.sh status    exit 0 when the engine answers
#
# `up` is a no-op when an engine already answers on the socket (one we did not start: `down` then
# leaves it alone). Images survive `down` in $DATA_ROOT (the stand-in image cache).
set -euo pipefail

STATE=${LLMSTACK_DOCKER_STATE:-/run/llmstack-docker}
DATA_ROOT=${LLMSTACK_DOCKER_DATA:-/var/lib/docker}
SOCKET=/var/run/docker.sock
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker

answers() { "$DOCKER" -H "unix://$SOCKET" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install() {
  export DEBIAN_FRONTEND=noninteractive
  # The package must not start a system dockerd: `up` starts (and `down` stops) the one we use.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io debootstrap iptables >/dev/null
}

up() {
  if answers; then
    echo "engine.sh: an engine already answers on $SOCKET; not starting another" >&2
    return 0
  fi
  [ "$(id -u)" = 0 ] || { echo "engine.sh: dockerd needs root" >&2; exit 1; }
  mkdir -p "$STATE"
  # What dockerd changes and never puts back: recorded before it starts.
  cat /proc/sys/net/ipv4/ip_forward > "$STATE/ip_forward.before"
  # `iptables -S` (not iptables-save, which prints nothing for tables never loaded) always lists policies.
  for table in filter nat; do iptables -t "$table" -S > "$STATE/iptables.$table.before"; done
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 > "$STATE/links.before"
  nohup dockerd --storage-driver=overlay2 --data-root "$DATA_ROOT" --host "unix://$SOCKET" \
    --pidfile "$STATE/dockerd.docker-pid" >"$STATE/dockerd.log" 2>&1 &
  echo $! > "$STATE/dockerd.pid"
  for _ in $(seq 1 60); do
    if answers; then echo "engine.sh: dockerd up (pid $(cat "$STATE/dockerd.pid"))"; return 0; fi
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break
    sleep 0.5
  done
  echo "engine.sh: dockerd did not come up; log:" >&2
  tail -20 "$STATE/dockerd.log" >&2
  exit 1
}

down() {
  if [ ! -f "$STATE/dockerd.pid" ]; then
    echo "engine.sh: no dockerd started by engine.sh; nothing to stop"
    return 0
  fi
  pid=$(cat "$STATE/dockerd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # Containers first (their networks' bridges go with them), then the daemon.
    ids=$("$DOCKER" ps -aq 2>/dev/null || true)
    [ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1 || true
    nets=$("$DOCKER" network ls -q --filter type=custom 2>/dev/null || true)
    [ -z "$nets" ] || "$DOCKER" network rm $nets >/dev/null 2>&1 || true
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  fi
  # dockerd starts containerd itself and stops it on TERM; a KILLed dockerd may leave it.
  if [ -f /var/run/docker/containerd/containerd.pid ]; then
    cpid=$(cat /var/run/docker/containerd/containerd.pid)
    if kill -0 "$cpid" 2>/dev/null; then kill -TERM "$cpid"; fi
  fi
  # Bridges that were not there before (docker0, br-<id> of networks left behind).
  while read -r link; do
    case "$link" in
      docker0|br-*) grep -qx "$link" "$STATE/links.before" || ip link delete "$link" 2>/dev/null || true ;;
    esac
  done < <(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1)
  # The filter and nat tables as they were before `up`: dockerd's DOCKER* chains, the jumps into
  # them, its MASQUERADE rules and its FORWARD policy (DROP) go.
  for table in filter nat; do
    [ -f "$STATE/iptables.$table.before" ] || continue
    iptables -t "$table" -F
    iptables -t "$table" -X
    while read -r rule; do
      eval "iptables -t $table $rule"
    done < "$STATE/iptables.$table.before"
  done
  if [ -f "$STATE/ip_forward.before" ]; then
    cat "$STATE/ip_forward.before" > /proc/sys/net/ipv4/ip_forward
  fi
  rm -f "$STATE/dockerd.pid" "$STATE/ip_forward.before" "$STATE/iptables."*.before "$STATE/links.before"
  echo "engine.sh: dockerd stopped; iptables, bridges and ip_forward restored"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) answers ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
