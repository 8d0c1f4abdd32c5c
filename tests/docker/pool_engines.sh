#!/usr/bin/env bash
# GPU hosts for the docker tier's pool tests: N Docker engines, each in its own network namespace
# with its own address on a private test bridge, beside the main engine (which this never touches).
#
#   tests/docker/pool_engines.sh up N     bridge llmpool0 (10.213.7.1 and .2/24) in the root namespace, then per
#                                         host n=1..N: netns llmstack-gpu<n>, a veth with 10.213.7.1<n>
#                                         on the bridge, a dockerd in that namespace on
#                                         unix:///run/llmstack-gpu<n>/docker.sock
#   tests/docker/pool_engines.sh load IMAGE...   copy images from the main engine into every GPU engine
#   tests/docker/pool_engines.sh down     remove their containers, stop the dockerds (and their
#                                         containerds), delete the namespaces (their veths and iptables
#                                         go with them), the bridge, the data and exec roots; found by
#                                         name when an interrupted run lost its records. The root
#                                         namespace's iptables are never touched.
#   tests/docker/pool_engines.sh status   exit 0 when every engine `up` started answers
#
# Only addresses of 10.213.7.0/24 on llmpool0, which this script creates, are used. Each dockerd
# runs in a private mount namespace too (FACTS.md: nsenter + unshare -m, not `ip netns exec`, which
# remounts /sys and hides the cgroup mounts). The caller must not hand it a lock fd: dockerd keeps
# every fd it inherits (the tests start this with Python's close_fds).
set -euo pipefail

STATE=${LLMSTACK_POOL_STATE:-/run/llmstack-pool}
BRIDGE=llmpool0
PREFIX=10.213.7
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker

netns() { echo "llmstack-gpu$1"; }
exec_root() { echo "/run/llmstack-gpu$1"; }
data_root() { echo "/var/lib/llmstack-gpu$1"; }
socket() { echo "$(exec_root "$1")/docker.sock"; }
address() { echo "$PREFIX.1$1"; }
answers() { "$DOCKER" -H "unix://$(socket "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
hosts() {
  if [ -f "$STATE/hosts" ]; then cat "$STATE/hosts"; return; fi
  # No record (an interrupted run lost it): whatever of ours is there, by name.
  for n in 1 2 3; do
    if [ -e "/var/run/netns/$(netns "$n")" ] || [ -e "$(exec_root "$n")" ]; then echo "$n"; fi
  done
}
dockerd_pid() { cat "$STATE/dockerd-gpu$1.pid" 2>/dev/null || cat "$(exec_root "$1")/dockerd.pid" 2>/dev/null || true; }

up() {
  local count=$1
  [ "$(id -u)" = 0 ] || { echo "pool_engines.sh: needs root" >&2; exit 1; }
  [[ "$count" =~ ^[1-3]$ ]] || { echo "pool_engines.sh: up N with N from 1 to 3, got '$count'" >&2; exit 2; }
  down  # leftovers of an interrupted run
  mkdir -p "$STATE"
  : > "$STATE/hosts"
  ip link add "$BRIDGE" type bridge
  # .1: the gateway host as the GPU hosts see it; .2: a stranger on the same bridge (allow-list tests).
  ip addr add "$PREFIX.1/24" dev "$BRIDGE"
  ip addr add "$PREFIX.2/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  for n in $(seq 1 "$count"); do
    echo "$n" >> "$STATE/hosts"
    ip netns add "$(netns "$n")"
    ip link add "llmpool0-gpu$n" type veth peer name eth0 netns "$(netns "$n")"
    ip link set "llmpool0-gpu$n" master "$BRIDGE" up
    ip -n "$(netns "$n")" addr add "$(address "$n")/24" dev eth0
    ip -n "$(netns "$n")" link set eth0 up
    ip -n "$(netns "$n")" link set lo up
    mkdir -p "$(exec_root "$n")" "$(data_root "$n")"
    # stdin/stdout/stderr away from the caller (a pipe held open would keep it waiting).
    nohup nsenter --net="/var/run/netns/$(netns "$n")" unshare -m sh -c \
      "mount --make-rprivate / && exec dockerd --storage-driver=overlay2 --data-root '$(data_root "$n")' \
        --exec-root '$(exec_root "$n")' --pidfile '$(exec_root "$n")/dockerd.pid' \
        -H 'unix://$(socket "$n")' --bip 172.31.$((200 + n)).1/24" \
      </dev/null >"$STATE/dockerd-gpu$n.log" 2>&1 &
    echo $! > "$STATE/dockerd-gpu$n.pid"
  done
  for n in $(seq 1 "$count"); do
    for _ in $(seq 1 60); do
      answers "$n" && break
      kill -0 "$(cat "$STATE/dockerd-gpu$n.pid")" 2>/dev/null || break
      sleep 0.5
    done
    if ! answers "$n"; then
      echo "pool_engines.sh: the dockerd of gpu$n did not come up; log:" >&2
      tail -20 "$STATE/dockerd-gpu$n.log" >&2
      down
      exit 1
    fi
  done
  echo "pool_engines.sh: $count engines up at $(for n in $(hosts); do printf '%s ' "$(address "$n")"; done)"
}

load() {
  # One `docker save` of all the images (their shared layers once), loaded into each engine in turn.
  local archive="$STATE/images.tar"
  "$DOCKER" save -o "$archive" "$@"
  for n in $(hosts); do
    "$DOCKER" -H "unix://$(socket "$n")" load -q -i "$archive" >/dev/null
  done
  rm -f "$archive"
}

down() {
  # Every engine at once: containers first (their shims and docker-proxies go with them), then TERM.
  for n in $(hosts); do
    pid=$(dockerd_pid "$n")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      ids=$("$DOCKER" -H "unix://$(socket "$n")" ps -aq 2>/dev/null || true)
      [ -z "$ids" ] || "$DOCKER" -H "unix://$(socket "$n")" rm -f -v $ids >/dev/null 2>&1 || true
      kill -TERM "$pid"
    fi
  done
  for n in $(hosts); do
    pid=$(dockerd_pid "$n")
    if [ -n "$pid" ]; then
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    fi
    # dockerd stops the containerd it started on TERM; a KILLed one may leave it.
    cpidfile="$(exec_root "$n")/containerd/containerd.pid"
    if [ -f "$cpidfile" ]; then
      cpid=$(cat "$cpidfile")
      if kill -0 "$cpid" 2>/dev/null; then kill -TERM "$cpid"; fi
    fi
    # The namespace takes its end of the veth (and so the pair) and its iptables rules with it.
    ip netns delete "$(netns "$n")" 2>/dev/null || true
    ip link delete "llmpool0-gpu$n" 2>/dev/null || true
    rm -rf "$(exec_root "$n")" "$(data_root "$n")"
    rm -f "$STATE/dockerd-gpu$n.pid" "$STATE/dockerd-gpu$n.log"
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE"; fi
  rm -f "$STATE/hosts"
  rmdir "$STATE" 2>/dev/null || true
}

status() {
  [ -n "$(hosts)" ] || return 1
  for n in $(hosts); do answers "$n" || return 1; done
}

case "${1:-}" in
  up) up "${2:-2}" ;;
  load) shift; load "$@" ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up N|load IMAGE...|down|status" >&2; exit 2 ;;
esac
