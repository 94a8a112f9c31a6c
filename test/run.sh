#!/usr/bin/env bash
# The one test command (`npm test`): installs what the tests need on a fresh Debian machine,
# then runs every test: unit (the program under mocks, the renderers read as text, htpasswd;
# no Docker: `npm run test:unit`), nginx (the renderers through a real nginx -t and the
# authentication module in a running nginx, both in the test nginx image, with njs:
# `npm run test:nginx`), live (the program deployed by the real Pulumi engine to a real
# Docker engine with Pebble as the CA) and a smoke run of the benchmark. Idempotent: a warm
# machine installs and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# System packages: apache2-utils (htpasswd -v), openssl, the Docker engine,
# debootstrap (test images), skopeo (the benchmark's push and pull client), openssh
# (a loopback sshd stands in for a remote Docker host), jq and xz (the README's commands, the
# Pulumi toolchain's sources), prometheus (promtool tests the alert rules), python3-venv (the
# Python example's virtualenv).
need=()
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v debootstrap >/dev/null || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
command -v dockerd >/dev/null || [ -x /usr/sbin/dockerd ] || need+=(docker.io)
command -v curl >/dev/null || need+=(curl)
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v jq >/dev/null || need+=(jq)
command -v xz >/dev/null || need+=(xz-utils)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  # Never let a package's postinst start a service (sshd would take port 22 on the host).
  created_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -z "$created_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
export PATH="$PATH:/usr/sbin:/sbin"

if [ ! -x node_modules/.bin/tsx ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi

log "typecheck (tsc --noEmit)"
npx tsc --noEmit -p .

log "lint (eslint, prettier)"
npm run --silent lint

# The Pulumi CLI, its language hosts and providers (on PATH, or built from source).
# shellcheck source=test/bed/toolchain.sh
source test/bed/toolchain.sh

log "docker engine"
bash test/bed/docker-engine.sh

log "test images"
bash test/bed/images.sh

# Leftovers of an earlier run that was killed before its cleanup (everything the bed
# creates carries the label registry-bed): they would hold the bed's ports.
stale=$(docker ps -aq --filter label=registry-bed)
[ -z "$stale" ] || docker rm --force --volumes $stale >/dev/null
stale=$(docker network ls -q --filter label=registry-bed)
[ -z "$stale" ] || docker network rm $stale >/dev/null
stale=$(docker volume ls -q --filter label=registry-bed)
[ -z "$stale" ] || docker volume rm -f $stale >/dev/null
# The S3 test servers of a killed run (a PID file names each; only a versitygw is ended).
for s3_pid_file in "${TMPDIR:-/tmp}"/registry-bed-s3.*.pid; do
  [ -f "$s3_pid_file" ] || continue
  s3_pid=$(cat "$s3_pid_file")
  if [ -r "/proc/$s3_pid/cmdline" ] && tr '\0' ' ' < "/proc/$s3_pid/cmdline" | grep -q versitygw; then kill "$s3_pid" || true; fi
  rm -f "$s3_pid_file"
done
# Stack files of a killed run's test stacks (the stacks lived in its temporary backend).
rm -f Pulumi.bed-*.yaml
# Processes a killed run's Pulumi CLI left (they carry its marker in their environment).
for environ in /proc/[0-9]*/environ; do
  if grep -qz '^REGISTRY_BED_ENGINE=' "$environ" 2>/dev/null; then
    pid=${environ#/proc/}; pid=${pid%/environ}
    kill "$pid" 2>/dev/null || true
  fi
done
# The /etc/hosts lock of a killed run (test/live/hostsFile.ts).
rmdir /run/registry-bed-hosts.lock 2>/dev/null || true
if grep -q '# registry-bed ' /etc/hosts; then
  grep -v '# registry-bed ' /etc/hosts > /tmp/registry-bed-hosts; cat /tmp/registry-bed-hosts > /etc/hosts; rm -f /tmp/registry-bed-hosts
fi

if [ -n "${SKIP_TESTS:-}" ]; then exit 0; fi

log "tests"
status=0
# Three test files at a time: each live file deploys its own stack on its own ports and name.
node --import tsx --test --test-concurrency=3 \
  test/unit/*.test.ts test/nginx/*.test.ts test/live/*.test.ts bench/*.test.ts || status=$?

# No Pulumi language host or provider plugin (nor anything they started) may outlive the tests.
left=
for environ in /proc/[0-9]*/environ; do
  if grep -qz '^REGISTRY_BED_ENGINE=' "$environ" 2>/dev/null; then
    pid=${environ#/proc/}; pid=${pid%/environ}
    left="$left $pid($(cat "/proc/$pid/comm" 2>/dev/null))"
  fi
done
if [ -n "$left" ]; then
  echo "processes started by the tests' Pulumi runs are still running:$left" >&2
  status=1
fi
exit "$status"
