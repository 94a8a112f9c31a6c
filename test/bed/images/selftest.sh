#!/usr/bin/env bash
# Smoke test of the four images built by test/bed/images.sh, with throwaway
# containers (label registry-bed=selftest) on a throwaway user-defined network;
# everything it creates is removed at the end. Only loopback / container
# addresses are contacted.
#   IMAGES_ENV  file written by images.sh (default test/bed/.images.env)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
images_env=${IMAGES_ENV:-$here/../.images.env}
[ -f "$images_env" ] || { echo "selftest: $images_env not found; run test/bed/images.sh" >&2; exit 1; }
# shellcheck disable=SC1090
. "$images_env"

run_id=selftest-$$-$RANDOM
net=registry-bed-$run_id
passed=0
failed=0

cleanup() {
  local ids
  ids=$(docker ps -aq --filter "label=registry-bed.run=$run_id" 2>/dev/null || true)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  docker image rm "127.0.0.1:${reg_port:-0}/selftest/tiny:1" >/dev/null 2>&1 || true
  rm -rf "${tmp:-/nonexistent-selftest}"
}
trap cleanup EXIT
tmp=$(mktemp -d)

check() { # DESCRIPTION COMMAND...
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok:   $desc"
  else
    failed=$((failed + 1))
    echo "FAIL: $desc"
    printf '%s\n' "$out" | tail -n 15 | sed 's/^/      /'
  fi
}

labels=(--label registry-bed=selftest --label "registry-bed.run=$run_id")
drun() { docker run --rm "${labels[@]}" "$@"; }
start() { docker run -d "${labels[@]}" --network "$net" "$@" >/dev/null; }
# curl from a helper container on the test network (the nginx image has curl)
net_curl() { docker run --rm "${labels[@]}" --network "$net" --entrypoint curl "$NGINX_IMAGE" -sS --max-time 10 "$@"; }

wait_for() { # SECONDS COMMAND...
  local n=$1 i
  shift
  for ((i = 0; i < n * 2; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  "$@"
}

docker network create --label registry-bed=selftest "$net" >/dev/null

echo "== nginx ($NGINX_IMAGE, $NGINX_VERSION)"
check "nginx -t (default config)" drun "$NGINX_IMAGE" nginx -t
check "nginx, sh, wget, curl, openssl on PATH" drun --entrypoint sh "$NGINX_IMAGE" -c \
  'command -v nginx && command -v wget && command -v curl && command -v openssl && test -x /bin/sh'
check "user and group nginx exist" drun --entrypoint sh "$NGINX_IMAGE" -c 'id nginx && getent group nginx'
check "default CMD is nginx -g 'daemon off;'" sh -c \
  "docker image inspect -f '{{json .Config.Cmd}}' '$NGINX_IMAGE' | grep -qx '\[\"nginx\",\"-g\",\"daemon off;\"\]'"
start --name nginx-st "$NGINX_IMAGE"
default_page() { net_curl http://nginx-st/ | grep -q 'Welcome to nginx'; }
check "serves the default page" wait_for 10 default_page
check "worker processes run as user nginx" docker exec nginx-st sh -c \
  'u=$(id -u nginx); for p in /proc/[0-9]*; do grep -q "worker process" $p/cmdline 2>/dev/null && awk "/^Uid:/{print \$2}" $p/status; done | grep -qx "$u"'
cat >"$tmp/own.conf" <<'EOF'
user nginx;
events {}
http {
    server {
        listen 8080;
        location / { return 200 "own config\n"; }
    }
}
EOF
docker run -d "${labels[@]}" --network "$net" --name nginx-own -v "$tmp/own.conf:/etc/test/own.conf:ro" \
  "$NGINX_IMAGE" nginx -c /etc/test/own.conf -g 'daemon off;' >/dev/null
own_page() { net_curl http://nginx-own:8080/ | grep -qx 'own config'; }
check "runs 'nginx -c <own file>'" wait_for 10 own_page

echo "== registry ($REGISTRY_IMAGE, $REGISTRY_VERSION)"
check "registry --version (entrypoint passes -* to registry)" drun "$REGISTRY_IMAGE" --version
check "binary at /bin/registry, wget and curl available" drun --entrypoint sh "$REGISTRY_IMAGE" -c \
  'test -x /bin/registry && command -v wget && command -v curl'
check "entrypoint execs other commands" sh -c "docker run --rm ${labels[*]} '$REGISTRY_IMAGE' echo hello | grep -qx hello"
start --name registry-st -p 127.0.0.1::5000 "$REGISTRY_IMAGE"
v2_from_net() { [ "$(net_curl -o /dev/null -w '%{http_code}' http://registry-st:5000/v2/)" = 200 ]; }
check "GET /v2/ -> 200 (from the network)" wait_for 15 v2_from_net
check "healthcheck-style wget inside the container" docker exec registry-st wget -q -O /dev/null http://localhost:5000/v2/
reg_port=$(docker port registry-st 5000/tcp | sed -n 's/^127\.0\.0\.1://p' | head -n 1)
check "GET /v2/ -> 200 (host, 127.0.0.1:$reg_port)" sh -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$reg_port/v2/)\" = 200"
mkdir -p "$tmp/tiny" && echo tiny >"$tmp/tiny/hello.txt"
check "push and pull a small image through it" sh -c "
  tar -C '$tmp/tiny' -c . | docker import - 127.0.0.1:$reg_port/selftest/tiny:1 >/dev/null &&
  docker push 127.0.0.1:$reg_port/selftest/tiny:1 >/dev/null &&
  docker image rm 127.0.0.1:$reg_port/selftest/tiny:1 >/dev/null &&
  docker pull 127.0.0.1:$reg_port/selftest/tiny:1 >/dev/null &&
  curl -sf http://127.0.0.1:$reg_port/v2/selftest/tiny/tags/list | grep -q '\"1\"'"

echo "== certbot ($CERTBOT_IMAGE, $CERTBOT_VERSION)"
check "certbot --version (ENTRYPOINT certbot)" sh -c "docker run --rm ${labels[*]} '$CERTBOT_IMAGE' --version 2>&1 | grep -q 'certbot $CERTBOT_VERSION'"
check "python3 -c 'import cryptography'" drun --entrypoint python3 "$CERTBOT_IMAGE" -c \
  'import cryptography, json, ssl; from cryptography import x509; print(cryptography.__version__)'
check "/bin/sh, certbot and python3 on PATH" drun --entrypoint /bin/sh "$CERTBOT_IMAGE" -c 'command -v certbot && command -v python3'

echo "== pebble ($PEBBLE_IMAGE, $PEBBLE_VERSION)"
check "files in the official layout" drun --entrypoint /bin/sh "$PEBBLE_IMAGE" -c \
  'test -x /app && for f in /test/config/pebble-config.json /test/certs/localhost/cert.pem /test/certs/localhost/key.pem /test/certs/pebble.minica.pem; do test -s $f || exit 1; done'
check "listener cert: SANs localhost, pebble, 127.0.0.1, signed by the minica root" drun --entrypoint /bin/sh "$PEBBLE_IMAGE" -c \
  'openssl verify -CAfile /test/certs/pebble.minica.pem /test/certs/localhost/cert.pem &&
   openssl x509 -in /test/certs/localhost/cert.pem -noout -ext subjectAltName | grep -q "DNS:localhost, DNS:pebble, IP Address:127.0.0.1"'
docker run --rm "${labels[@]}" --entrypoint cat "$PEBBLE_IMAGE" /test/certs/pebble.minica.pem >"$tmp/minica.pem"
start --name pebble -p 127.0.0.1::14000 "$PEBBLE_IMAGE"
peb_port=$(docker port pebble 14000/tcp | sed -n 's/^127\.0\.0\.1://p' | head -n 1)
check "https://localhost:$peb_port/dir from the host (--cacert minica)" wait_for 15 sh -c \
  "curl -sS --max-time 10 --cacert '$tmp/minica.pem' --resolve localhost:$peb_port:127.0.0.1 https://localhost:$peb_port/dir | grep -q newAccount"
pebble_from_net() {
  docker run --rm "${labels[@]}" --network "$net" -v "$tmp/minica.pem:/minica.pem:ro" --entrypoint curl "$NGINX_IMAGE" \
    -sS --max-time 10 --cacert /minica.pem https://pebble:14000/dir | grep -q newAccount
}
check "https://pebble:14000/dir from the network (--cacert minica)" pebble_from_net
check "certbot container registers an account with pebble" sh -c "
  docker run --rm ${labels[*]} --network '$net' -v '$tmp/minica.pem:/minica.pem:ro' -e REQUESTS_CA_BUNDLE=/minica.pem \
    '$CERTBOT_IMAGE' register --server https://pebble:14000/dir --agree-tos --register-unsafely-without-email --non-interactive"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
