#!/usr/bin/env bash
# Ensure a working Docker engine on a Debian 12 machine running as root
# without systemd (developer machines and CI). Idempotent:
#   - `docker info` already works            -> nothing to do
#   - a dockerd is running but still starting -> wait for it, never start a second one
#   - otherwise: install docker.io if needed, make sure /etc/docker/daemon.json
#     has "dns": ["127.0.0.1"] (containers must never forward DNS lookups off
#     the machine), start dockerd with nohup and wait until it answers.
#
# Env: DOCKERD_LOG (default /var/log/dockerd-test.log),
#      DOCKERD_WAIT_SECONDS (default 60),
#      DOCKERD_DAEMON_JSON (default /etc/docker/daemon.json; for testing this script).
set -euo pipefail

log_file=${DOCKERD_LOG:-/var/log/dockerd-test.log}
wait_seconds=${DOCKERD_WAIT_SECONDS:-60}
daemon_json=${DOCKERD_DAEMON_JSON:-/etc/docker/daemon.json}

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

dockerd_running() { pgrep -x dockerd >/dev/null 2>&1; }

wait_for_docker() { # $1: why we wait (for messages)
  local i
  for ((i = 0; i < wait_seconds; i++)); do
    if docker_ok; then
      say "docker engine is up ($1, after ${i}s)"
      return 0
    fi
    if ! dockerd_running; then
      say "dockerd exited while waiting ($1)"
      return 1
    fi
    sleep 1
  done
  say "docker info still fails after ${wait_seconds}s ($1)"
  return 1
}

show_log_tail() {
  if [ -s "$log_file" ]; then
    say "last lines of $log_file:"
    tail -n 30 "$log_file" >&2 || true
  fi
}

if docker_ok; then
  say "docker engine already running; nothing to do"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (docker info fails and the engine can only be started as root)"

# A dockerd that is running but not answering yet (just started by someone
# else): wait for it rather than starting a second daemon, and never stop it.
if dockerd_running && command -v docker >/dev/null 2>&1; then
  say "a dockerd process is already running; waiting for it to answer"
  wait_for_docker "existing dockerd" && exit 0
  die "a dockerd process is running but 'docker info' does not succeed; not starting a second one (check its log, e.g. $log_file)"
fi

# --- install ------------------------------------------------------------------
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    say "apt-get update (no install candidate for docker.io yet)"
    apt-get update -qq || die "apt-get update failed"
  fi
  # Keep the package's maintainer scripts from starting a daemon through
  # invoke-rc.d: this script starts dockerd itself, with the right config/log.
  policy_rc=/usr/sbin/policy-rc.d
  created_policy=
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc"
    chmod 0755 "$policy_rc"
    created_policy=1
  fi
  say "apt-get install -y docker.io"
  install_rc=0
  apt-get install -y -q docker.io || install_rc=$?
  if [ -n "$created_policy" ]; then rm -f "$policy_rc"; fi
  [ "$install_rc" = 0 ] || die "apt-get install docker.io failed (exit $install_rc)"
  command -v dockerd >/dev/null 2>&1 || die "dockerd still not found after installing docker.io"
  command -v docker >/dev/null 2>&1 || die "docker CLI still not found after installing docker.io"
fi

# --- daemon.json: "dns": ["127.0.0.1"] ------------------------------------------
dns_is_loopback_only() { # true if $daemon_json already has exactly "dns": ["127.0.0.1"]
  if command -v jq >/dev/null 2>&1; then
    jq -e '.dns == ["127.0.0.1"]' "$daemon_json" >/dev/null 2>&1
  elif command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("dns") == ["127.0.0.1"] else 1)' "$daemon_json" 2>/dev/null
  else
    return 1
  fi
}

mkdir -p "$(dirname "$daemon_json")"
if [ ! -s "$daemon_json" ] || ! grep -q '[^[:space:]]' "$daemon_json"; then
  printf '{\n  "dns": ["127.0.0.1"]\n}\n' >"$daemon_json"
  say "wrote $daemon_json"
elif dns_is_loopback_only; then
  : # already {"dns": ["127.0.0.1"]}; leave the file untouched
else
  tmp_json=$(mktemp "$daemon_json.XXXXXX")
  if command -v jq >/dev/null 2>&1; then
    jq '.dns = ["127.0.0.1"]' "$daemon_json" >"$tmp_json" \
      || { rm -f "$tmp_json"; die "$daemon_json is not valid JSON; fix or remove it"; }
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$daemon_json" "$tmp_json" <<'EOF' || { rm -f "$tmp_json"; die "$daemon_json is not a valid JSON object; fix or remove it"; }
import json, sys
with open(sys.argv[1]) as f:
    cfg = json.load(f)
if not isinstance(cfg, dict):
    sys.exit(1)
cfg["dns"] = ["127.0.0.1"]
with open(sys.argv[2], "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
EOF
  else
    rm -f "$tmp_json"
    die "$daemon_json exists and neither jq nor python3 is available to merge \"dns\": [\"127.0.0.1\"] into it"
  fi
  if cmp -s "$tmp_json" "$daemon_json"; then
    rm -f "$tmp_json"
  else
    chmod 0644 "$tmp_json"
    mv "$tmp_json" "$daemon_json"
    say "merged \"dns\": [\"127.0.0.1\"] into $daemon_json"
  fi
fi

# --- start dockerd -------------------------------------------------------------
mkdir -p "$(dirname "$log_file")"
say "starting dockerd (log: $log_file)"
printf '\n=== %s docker-engine.sh starting dockerd ===\n' "$(date -u +%FT%TZ)" >>"$log_file"
# setsid + nohup: the daemon survives this script and its session.
setsid nohup dockerd --config-file "$daemon_json" >>"$log_file" 2>&1 </dev/null &
disown || true

if wait_for_docker "dockerd started by docker-engine.sh"; then
  exit 0
fi
show_log_tail
die "dockerd exited or did not answer within ${wait_seconds}s; see $log_file"
