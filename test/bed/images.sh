#!/usr/bin/env bash
# Build the six local Docker images of the test bed without pulling anything
# from a container registry (none is reachable):
#
#   registry-test/nginx:<hash>     stand-in for nginx:stable-alpine      (nginx 1.30 + njs 1.0, built
#                                  from the source tarballs in shared/nginx-src/)
#   registry-test/registry:<hash>  stand-in for registry:3               (distribution, go install)
#   registry-test/certbot:<hash>   stand-in for certbot/certbot and certbot/dns-rfc2136
#                                  (certbot and certbot-dns-rfc2136 from PyPI in a venv)
#   registry-test/pebble:<hash>    stand-in for ghcr.io/letsencrypt/pebble (pebble, go install)
#   registry-test/bind9:<hash>     Debian's bind9: the DNS server of the DNS-01 tests
#   registry-test/redis:<hash>     stand-in for redis:7-alpine            (Debian's redis-server)
#
# and one host binary: versitygw (go install), the S3-compatible server the S3 storage tests
# run on the host (test/live/s3server.ts). It has no Debian fallback: without the Go module
# proxy, S3_SERVER_BIN stays empty and the S3 tests fail saying so.
#
# How: `debootstrap --variant=minbase` (from the Debian mirror configured in
# /etc/apt/sources.list*) makes a root filesystem per kind, `docker import`
# turns it into a local base image, and `docker build --network none` adds the
# recipe in test/bed/images/<name>/ FROM that base. Everything that needs the
# network runs on the host, before the builds: debootstrap (Debian mirror),
# `go install` (Go module proxy), `pip download` (PyPI).
#
# Caching: each image tag is a short hash of its recipe (this script, the
# files in test/bed/images/<name>/, the Debian suite and package list, the
# pinned versions). An image that is already present is not rebuilt, so a warm
# run builds nothing and takes about a second. Slow intermediate results live
# under $BED_CACHE: .debs, rootfs tarballs, Go module/build caches and
# binaries, pip wheels.
#
# nginx: the official image's nginx and njs versions are not in Debian, so the sources
# come from the nginx-src folder of shared/ beside the repo ($BED_NGINX_SRC:
# nginx-$BED_NGINX_VERSION.tar.xz, njs-$BED_NJS_VERSION.tar.xz), copied into the build
# context. A multi-stage Dockerfile compiles them FROM a build rootfs (build-essential and
# the -dev packages) and copies the result onto a slim runtime rootfs (the base packages
# and the libraries nginx and njs link). The image tag includes the tarballs' sha256, so
# a new source rebuilds; the compile stage is reused from Docker's build cache when only
# the runtime part (or this script) changed.
#
# Fallbacks: if `go install` fails (or go is missing) the registry/pebble
# binaries come from Debian's docker-registry/pebble packages; if the certbot
# wheels cannot be downloaded, Debian's certbot package is used.
# BED_FALLBACK=registry,pebble,certbot forces them.
#
# Output: $IMAGES_ENV gets NGINX_IMAGE=..., REGISTRY_IMAGE=..., CERTBOT_IMAGE=...,
# PEBBLE_IMAGE=..., BIND9_IMAGE=..., REDIS_IMAGE=... and NGINX_VERSION=..., REGISTRY_VERSION=..., CERTBOT_VERSION=...,
# PEBBLE_VERSION=..., BIND9_VERSION=..., REDIS_VERSION=..., S3_SERVER_BIN=..., S3_SERVER_VERSION=... (versitygw's; both empty
# without it); the file is sourced by shell scripts, so no value has spaces. The last line on stdout
# names the versions under test.
#
# Env:
#   IMAGES_ENV            output file (default test/bed/.images.env)
#   BED_CACHE             cache dir (default /var/cache/registry-bed)
#   BED_DEBIAN_SUITE      trixie (default when debootstrap/keyring know it) or bookworm
#   BED_DEBIAN_MIRROR     default: the Debian mirror of /etc/apt/sources.list*, else debootstrap's own
#   BED_NGINX_SRC         folder of the nginx/njs source tarballs (default ../shared/nginx-src beside the repo)
#   BED_NGINX_VERSION     nginx release of the tarball nginx-<version>.tar.xz (default 1.30.4)
#   BED_NJS_VERSION       njs release of the tarball njs-<version>.tar.xz (default 1.0.0)
#   BED_REGISTRY_VERSION  distribution release (default v3.1.2)
#   BED_PEBBLE_VERSION    pebble release (default v2.10.3)
#   BED_CERTBOT_VERSION   certbot release on PyPI (default 5.8.0)
#   BED_S3_VERSION        versitygw release (default v1.8.0)
#   BED_FALLBACK          comma list of registry,pebble,certbot to build from Debian packages
#   BED_IMAGE_REPO        image name prefix (default registry-test)
set -euo pipefail

start_time=$(date +%s)
bed_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$bed_dir/$(basename "${BASH_SOURCE[0]}")
recipes=$bed_dir/images

BED_CACHE=${BED_CACHE:-/var/cache/registry-bed}
IMAGES_ENV=${IMAGES_ENV:-$bed_dir/.images.env}
registry_version=${BED_REGISTRY_VERSION:-v3.1.2}
pebble_version=${BED_PEBBLE_VERSION:-v2.10.3}
certbot_version=${BED_CERTBOT_VERSION:-5.8.0}
nginx_version=${BED_NGINX_VERSION:-1.30.4}
njs_version=${BED_NJS_VERSION:-1.0.0}
nginx_src=${BED_NGINX_SRC:-$bed_dir/../../../shared/nginx-src}
s3_version=${BED_S3_VERSION:-v1.8.0}
forced_fallback=",${BED_FALLBACK:-},"

repo=${BED_IMAGE_REPO:-registry-test} # image repository prefix (tests of this script use another)
registry_pkg=github.com/distribution/distribution/v3/cmd/registry
pebble_pkg=github.com/letsencrypt/pebble/v2/cmd/pebble
versitygw_pkg=github.com/versity/versitygw/cmd/versitygw
# Bump when the way root filesystems are made changes (invalidates rootfs tarballs).
rootfs_rev=2
base_pkgs=ca-certificates,openssl,wget,curl

say() { printf 'images: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
short_hash() { sha256sum | cut -c1-12; }
forced() { [[ $forced_fallback == *",$1,"* ]]; }

# Run a command with its output in $BED_CACHE/logs/<name>.log; on failure show
# the end of the log and return the command's status.
run_logged() {
  local name=$1 rc=0
  shift
  "$@" >"$BED_CACHE/logs/$name.log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    say "'$name' failed (exit $rc); last lines of $BED_CACHE/logs/$name.log:"
    tail -n 40 "$BED_CACHE/logs/$name.log" >&2 || true
  fi
  return "$rc"
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null; }

# "1:2.8.3+ds1-2+b8" -> "2.8.3"
upstream_version() {
  local v=${1#*:}
  v=${v%-*}
  printf '%s\n' "${v%%+*}"
}

# apt_install PKG...: install Debian packages on the host (apt-get update first
# only when a package has no install candidate yet)
apt_install() {
  local p
  for p in "$@"; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      run_logged apt-get-update apt-get update || return 1
      break
    fi
  done
  DEBIAN_FRONTEND=noninteractive run_logged "apt-get-install" apt-get install -y --no-install-recommends "$@"
}

# ---------------------------------------------------------------- preconditions
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, docker)"
if ! docker info >/dev/null 2>&1; then
  say "docker engine not answering; running docker-engine.sh"
  "$bed_dir/docker-engine.sh"
fi

mkdir -p "$BED_CACHE"/{debs,rootfs,bin,wheels,go,go-build,logs,tmp}
exec 9>"$BED_CACHE/.lock"
flock -w 1800 9 || die "another images.sh holds $BED_CACHE/.lock"
# We hold the lock: nothing else uses the scratch space. (Everything that
# mounts runs in a private mount namespace, so no mounts can be left in it.)
rm -rf "${BED_CACHE:?}/tmp" && mkdir -p "$BED_CACHE/tmp"
declare -A go_job=()
cleanup() {
  local pid
  for pid in "${go_job[@]}"; do # our own background go builds, if still running
    if kill -0 "$pid" 2>/dev/null; then
      pkill -TERM -P "$pid" 2>/dev/null || true
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "${BED_CACHE:?}/tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export DOCKER_BUILDKIT=0 # the classic builder: FROM a local image, RUN with --network none

if [ -n "${BED_DEBIAN_SUITE:-}" ]; then
  suite=$BED_DEBIAN_SUITE
elif [ -e /usr/share/debootstrap/scripts/trixie ] && [ -e /usr/share/keyrings/debian-archive-trixie-stable.gpg ]; then
  suite=trixie
else
  suite=bookworm
fi

# The Debian mirror of the host's apt sources (one-line or deb822 format).
detect_mirror() {
  if [ -n "${BED_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "${BED_DEBIAN_MIRROR%/}"
    return
  fi
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '
      /^[[:space:]]*#/ { next }
      $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }
      $1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }
    ' "$f" | grep -E '^https?://[^ ]*/debian/?$' | head -n 1 || true)
    if [ -n "$uri" ]; then
      printf '%s\n' "${uri%/}"
      return
    fi
  done
  # None configured: debootstrap's own default mirror (no argument).
}

# --------------------------------------------------------------- root filesystems
# rootfs_image KIND PKGS: name of the local base image for that package set.
rootfs_image() {
  local key
  key=$(printf 'rev=%s\nsuite=%s\npkgs=%s\n' "$rootfs_rev" "$suite" "$2" | short_hash)
  printf '%s/rootfs-%s:%s\n' "$repo" "$1" "$key"
}

# ensure_rootfs KIND PKGS: make sure the base image exists (docker import of a
# cached tarball, made with debootstrap when missing).
ensure_rootfs() {
  local kind=$1 pkgs=$2 img key tarball
  img=$(rootfs_image "$kind" "$pkgs")
  image_exists "$img" && return 0
  key=${img##*:}
  tarball=$BED_CACHE/rootfs/$suite-$kind-$key.tar
  if [ ! -s "$tarball" ] || [ ! -f "$tarball.labels" ]; then
    make_rootfs_tarball "$kind" "$pkgs" "$tarball"
  fi
  local changes=() line
  while IFS= read -r line; do
    [ -n "$line" ] && changes+=(--change "LABEL ${line%%=*}=\"${line#*=}\"")
  done <"$tarball.labels"
  say "docker import $img"
  run_logged "import-$kind" docker import "${changes[@]}" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' "$tarball" "$img" || die "docker import of $tarball failed"
}

# make_rootfs_tarball KIND PKGS TARBALL [EXTRACT...]: debootstrap, record package
# versions as labels, slim down, tar. EXTRACT: files copied out of the rootfs
# to $BED_CACHE/bin/<tarball name without .tar>-<file name> (fallback binaries).
make_rootfs_tarball() {
  local kind=$1 pkgs=$2 tarball=$3 mirror dir root pkg ver
  mirror=$(detect_mirror)
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    apt_install debootstrap || die "cannot install debootstrap"
  fi
  say "debootstrap --variant=minbase $suite ($kind: $pkgs) from ${mirror:-the default mirror of debootstrap}"
  dir=$(mktemp -d "$BED_CACHE/tmp/rootfs-$kind.XXXXXX")
  root=$dir/root
  # private mount namespace: debootstrap's /proc,/sys,/dev mounts vanish with it
  run_logged "debootstrap-$kind" timeout 1200 unshare --mount --propagation private \
    debootstrap --variant=minbase --cache-dir="$BED_CACHE/debs" --include="$pkgs" \
    "$suite" "$root" ${mirror:+"$mirror"} || {
    if [ -f "$root/debootstrap/debootstrap.log" ]; then
      cp "$root/debootstrap/debootstrap.log" "$BED_CACHE/logs/debootstrap-$kind.debootstrap.log"
      say "last lines of $BED_CACHE/logs/debootstrap-$kind.debootstrap.log:"
      tail -n 20 "$root/debootstrap/debootstrap.log" >&2
    fi
    die "debootstrap of $suite ($kind) failed"
  }
  if grep -q " $dir/" /proc/mounts; then die "mounts left under $dir after debootstrap"; fi
  {
    printf 'registry-bed.suite=%s\n' "$suite"
    printf 'registry-bed.packages=%s\n' "$pkgs"
    for pkg in libc6 openssl nginx python3 certbot docker-registry pebble bind9 redis-server; do
      ver=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' "$pkg" 2>/dev/null || true)
      [ -n "$ver" ] && printf 'registry-bed.deb.%s=%s\n' "$pkg" "$ver"
    done
  } >"$dir/labels"
  shift 3
  local path out
  for path in "$@"; do
    [ -f "$root$path" ] || die "$path not found in the $kind rootfs"
    out=$BED_CACHE/bin/$(basename "$tarball" .tar)-$(basename "$path")
    cp "$root$path" "$out.tmp"
    mv "$out.tmp" "$out"
  done
  # slim down: apt lists and caches, docs, translations, logs; docker provides resolv.conf
  [ -d "$root/usr/bin" ] || die "unexpected rootfs layout in $root"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/debootstrap
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  find "$root/var/log" -type f -delete
  : >"$root/etc/resolv.conf"
  tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
  mv "$dir/labels" "$tarball.labels"
  mv "$tarball.tmp" "$tarball"
  rm -rf "$dir"
}

# ------------------------------------------------------------------- Go binaries
go_ldflags() { # NAME VERSION
  case $1 in
    registry) printf '%s' "-s -w -X github.com/distribution/distribution/v3/version.version=${2#v} -X github.com/distribution/distribution/v3/version.mainpkg=github.com/distribution/distribution/v3" ;;
    pebble) printf '%s' "-s -w -X main.version=$2" ;;
    versitygw) printf '%s' "-s -w -X main.Version=$2 -X main.Build=go-install" ;;
  esac
}

go_binary_path() { # NAME PKG VERSION
  local key
  key=$(printf 'pkg=%s\nversion=%s\nldflags=%s\ncgo=0\narch=%s\n' "$2" "$3" "$(go_ldflags "$1" "$3")" "$(uname -m)" | short_hash)
  printf '%s/bin/%s-%s-%s\n' "$BED_CACHE" "$1" "$3" "$key"
}

# build_go NAME PKG VERSION OUT (runs as a background job)
build_go() {
  local name=$1 pkg=$2 version=$3 out=$4 gobin
  gobin=$(mktemp -d "$BED_CACHE/tmp/gobin-$name.XXXXXX")
  env GOPATH="$BED_CACHE/go" GOMODCACHE="$BED_CACHE/go/pkg/mod" GOCACHE="$BED_CACHE/go-build" \
    GOBIN="$gobin" GOFLAGS="-buildvcs=false -modcacherw" GOWORK=off GOOS=linux CGO_ENABLED=0 \
    timeout 1200 go install -trimpath -ldflags "$(go_ldflags "$name" "$version")" "$pkg@$version"
  "$gobin/$name" -version >/dev/null 2>&1 || "$gobin/$name" --version
  mv "$gobin/$name" "$out.tmp"
  mv "$out.tmp" "$out"
}

# ------------------------------------------------------------------- pip wheels
# fetch_wheels DIR PYVER GLIBC: wheels of certbot==X/acme==X/certbot-dns-rfc2136==X (and deps) for the
# image's CPython (not the host's), downloaded on the host.
fetch_wheels() {
  local out=$1 pyver=$2 glibc=$3 arch tmp m
  arch=$(uname -m)
  local plat=(--platform "manylinux2014_$arch")
  for ((m = ${glibc#*.}; m >= 5; m--)); do plat+=(--platform "manylinux_2_${m}_$arch"); done
  if ! python3 -m pip --version >/dev/null 2>&1; then
    say "installing python3-pip (for pip download)"
    apt_install python3 python3-pip || return 1
  fi
  tmp=$(mktemp -d "$BED_CACHE/tmp/wheels.XXXXXX")
  say "pip download certbot==$certbot_version (wheels for CPython $pyver, glibc $glibc)"
  run_logged pip-download python3 -m pip download --disable-pip-version-check --dest "$tmp" \
    --only-binary=:all: --python-version "$pyver" --implementation cp \
    --abi "cp${pyver/./}" --abi abi3 --abi none "${plat[@]}" \
    "certbot==$certbot_version" "acme==$certbot_version" "certbot-dns-rfc2136==$certbot_version" || return 1
  mv "$tmp" "$out"
}

# ------------------------------------------------------------------ image builds
# recipe_hash NAME EXTRA...: this script + the recipe directory + inputs.
recipe_hash() {
  local name=$1
  shift
  {
    cat "$self"
    (cd "$recipes/$name" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf '%s\n' "$@"
  } | short_hash
}

# build_image NAME TAG BASE VERSION CONTEXT [BUILD-ARG...]
# Image labels are inherited by every container made from the image, so none of them is the
# cleanup label (registry-bed) that marks what the tests create: a user's stack deployed
# with these images must never look like a test's leftover.
build_image() {
  local name=$1 tag=$2 base=$3 version=$4 ctx=$5 a
  shift 5
  local args=()
  for a in "$@"; do args+=(--build-arg "$a"); done
  say "docker build $tag"
  run_logged "build-$name" docker build --network none --rm --force-rm \
    --build-arg "BASE=$base" "${args[@]}" \
    --label "registry-bed.image=$name" \
    --label "registry-bed.recipe=${tag##*:}" --label "registry-bed.version=$version" \
    --label "org.opencontainers.image.version=$version" \
    -t "$tag" "$ctx" || die "docker build of $tag failed"
}

# new_ctx NAME: a fresh build context holding a copy of the recipe directory
new_ctx() {
  local ctx
  ctx=$(mktemp -d "$BED_CACHE/tmp/ctx-$1.XXXXXX")
  cp -a "$recipes/$1/." "$ctx/"
  printf '%s\n' "$ctx"
}

# ---------------------------------------------------------------------- plan
# nginx + njs from source: what compiles them, and what they link at run time (plus
# gettext-base: envsubst, as in the official image). libssl3 became libssl3t64 in trixie.
if [ "$suite" = bookworm ]; then libssl=libssl3; else libssl=libssl3t64; fi
nginx_build_pkgs=build-essential,xz-utils,libpcre2-dev,libssl-dev,zlib1g-dev,libxslt1-dev
nginx_pkgs=$base_pkgs,gettext-base,libcrypt1,libpcre2-8-0,$libssl,zlib1g,libxml2
certbot_pkgs=$base_pkgs,python3,python3-venv
certbot_deb_pkgs=$base_pkgs,python3,python3-cffi-backend,certbot,python3-certbot-dns-rfc2136 # debootstrap does not resolve virtual packages
bind9_pkgs=$base_pkgs,bind9,bind9-dnsutils
redis_pkgs=$base_pkgs,redis-server
bins_pkgs=docker-registry,pebble

base_img=$(rootfs_image base "$base_pkgs")
nginx_base=$(rootfs_image nginx "$nginx_pkgs")
nginx_build_base=$(rootfs_image nginx-build "$nginx_build_pkgs")
certbot_base=$(rootfs_image certbot "$certbot_pkgs")
certbot_deb_base=$(rootfs_image certbot-deb "$certbot_deb_pkgs")
bind9_base=$(rootfs_image bind9 "$bind9_pkgs")
redis_base=$(rootfs_image redis "$redis_pkgs")
bins_img=$(rootfs_image bins "$bins_pkgs")   # never imported: only its tarball key is used
bins_key=${bins_img##*:}

registry_bin=$(go_binary_path registry "$registry_pkg" "$registry_version")
pebble_bin=$(go_binary_path pebble "$pebble_pkg" "$pebble_version")
versitygw_bin=$(go_binary_path versitygw "$versitygw_pkg" "$s3_version")

nginx_tarballs=("$nginx_src/nginx-$nginx_version.tar.xz" "$nginx_src/njs-$njs_version.tar.xz")
for f in "${nginx_tarballs[@]}"; do
  [ -s "$f" ] || die "nginx source $f not found (shared/nginx-src beside the repo, or BED_NGINX_SRC)"
done
nginx_src_sums=$(cd "$nginx_src" && sha256sum "${nginx_tarballs[@]##*/}")
nginx_tag=$repo/nginx:$(recipe_hash nginx "base=$nginx_base" "build-base=$nginx_build_base" \
  "nginx=$nginx_version" "njs=$njs_version" "$nginx_src_sums")
registry_go_tag=$repo/registry:$(recipe_hash registry "base=$base_img" "bin=${registry_bin##*/}")
registry_deb_tag=$repo/registry:$(recipe_hash registry "base=$base_img" "bin=debian:$suite:docker-registry:$bins_key")
pebble_go_tag=$repo/pebble:$(recipe_hash pebble "base=$base_img" "bin=${pebble_bin##*/}")
pebble_deb_tag=$repo/pebble:$(recipe_hash pebble "base=$base_img" "bin=debian:$suite:pebble:$bins_key")
certbot_pip_tag=$repo/certbot:$(recipe_hash certbot "base=$certbot_base" "certbot=pypi:$certbot_version")
certbot_deb_tag=$repo/certbot:$(recipe_hash certbot "base=$certbot_deb_base" "certbot=debian")
bind9_tag=$repo/bind9:$(recipe_hash bind9 "base=$bind9_base")
redis_tag=$repo/redis:$(recipe_hash redis "base=$redis_base")

if forced registry; then registry_tag=$registry_deb_tag; else registry_tag=$registry_go_tag; fi
if forced pebble; then pebble_tag=$pebble_deb_tag; else pebble_tag=$pebble_go_tag; fi
if forced certbot; then certbot_tag=$certbot_deb_tag; else certbot_tag=$certbot_pip_tag; fi

# ---------------------------------------------------------------------- build
built=()
have_go=
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH=/usr/local/go/bin:$PATH; fi
command -v go >/dev/null 2>&1 && have_go=1

# Go builds run in the background while the root filesystems are made.
for name in registry pebble; do
  tag_var=${name}_tag bin_var=${name}_bin pkg_var=${name}_pkg ver_var=${name}_version
  if forced "$name" || image_exists "${!tag_var}" || [ -s "${!bin_var}" ]; then continue; fi
  if [ -z "$have_go" ]; then
    say "go not found: $name falls back to Debian's package"
    continue
  fi
  say "go install ${!pkg_var}@${!ver_var} (CGO_ENABLED=0, background)"
  build_go "$name" "${!pkg_var}" "${!ver_var}" "${!bin_var}" >"$BED_CACHE/logs/go-$name.log" 2>&1 &
  go_job[$name]=$!
done

# the S3 server (a host binary, no image)
if [ ! -s "$versitygw_bin" ] && [ -n "$have_go" ]; then
  say "go install $versitygw_pkg@$s3_version (CGO_ENABLED=0, background)"
  build_go versitygw "$versitygw_pkg" "$s3_version" "$versitygw_bin" >"$BED_CACHE/logs/go-versitygw.log" 2>&1 &
  go_job[versitygw]=$!
fi

# nginx (compiled in the image build, FROM the build rootfs)
if ! image_exists "$nginx_tag"; then
  ensure_rootfs nginx-build "$nginx_build_pkgs"
  ensure_rootfs nginx "$nginx_pkgs"
  ctx=$(new_ctx nginx)
  mkdir -p "$ctx/src"
  cp "${nginx_tarballs[@]}" "$ctx/src/"
  build_image nginx "$nginx_tag" "$nginx_base" "$nginx_version-njs$njs_version" "$ctx" \
    "BUILD_BASE=$nginx_build_base" "NGINX_VERSION=$nginx_version" "NJS_VERSION=$njs_version"
  built+=(nginx)
fi

# certbot (rootfs first: the wheels must match its CPython and glibc)
if ! image_exists "$certbot_tag" && [ "$certbot_tag" = "$certbot_pip_tag" ]; then
  ensure_rootfs certbot "$certbot_pkgs"
  pyver=$(upstream_version "$(image_label "$certbot_base" registry-bed.deb.python3)")
  pyver=$(cut -d. -f1,2 <<<"$pyver")
  glibc=$(upstream_version "$(image_label "$certbot_base" registry-bed.deb.libc6)")
  wheels=$BED_CACHE/wheels/certbot-$certbot_version-rfc2136-cp${pyver/./}-glibc$glibc-$(uname -m)
  if [ -d "$wheels" ] || fetch_wheels "$wheels" "$pyver" "$glibc"; then
    ctx=$(new_ctx certbot)
    mkdir -p "$ctx/wheels"
    cp "$wheels"/*.whl "$ctx/wheels/"
    build_image certbot "$certbot_tag" "$certbot_base" "$certbot_version" "$ctx" "CERTBOT_VERSION=$certbot_version"
    built+=(certbot)
  else
    say "certbot wheels not available: falling back to Debian's certbot package"
    certbot_tag=$certbot_deb_tag
  fi
fi
if ! image_exists "$certbot_tag"; then # Debian fallback
  ensure_rootfs certbot-deb "$certbot_deb_pkgs"
  ver=$(upstream_version "$(image_label "$certbot_deb_base" registry-bed.deb.certbot)")
  ctx=$(new_ctx certbot)
  mkdir -p "$ctx/wheels"
  : >"$ctx/wheels/.none"
  build_image certbot "$certbot_tag" "$certbot_deb_base" "$ver" "$ctx" "CERTBOT_VERSION=$ver"
  built+=(certbot-debian)
fi

# bind9 (the DNS-01 tests' DNS server)
if ! image_exists "$bind9_tag"; then
  ensure_rootfs bind9 "$bind9_pkgs"
  ctx=$(new_ctx bind9)
  build_image bind9 "$bind9_tag" "$bind9_base" "$(upstream_version "$(image_label "$bind9_base" registry-bed.deb.bind9)")" "$ctx"
  built+=(bind9)
fi

# Redis (the multi-host tests' shared cache)
if ! image_exists "$redis_tag"; then
  ensure_rootfs redis "$redis_pkgs"
  ctx=$(new_ctx redis)
  build_image redis "$redis_tag" "$redis_base" "$(upstream_version "$(image_label "$redis_base" registry-bed.deb.redis-server)")" "$ctx"
  built+=(redis)
fi

# registry and pebble share the base rootfs
if ! image_exists "$registry_tag" || ! image_exists "$pebble_tag"; then
  ensure_rootfs base "$base_pkgs"
fi

# debian_binary NAME PATH: the binary from Debian's package (fallback route)
debian_binary() {
  local tarball=$BED_CACHE/rootfs/$suite-bins-$bins_key.tar
  local bin=$BED_CACHE/bin/$suite-bins-$bins_key-$1
  if [ ! -s "$bin" ] || [ ! -f "$tarball.labels" ]; then
    make_rootfs_tarball bins "$bins_pkgs" "$tarball" /usr/bin/docker-registry /usr/bin/pebble
  fi
  cp "$bin" "$2"
  chmod 0755 "$2"
}
debian_version() { # PACKAGE
  upstream_version "$(sed -n "s/^registry-bed\.deb\.$1=//p" "$BED_CACHE/rootfs/$suite-bins-$bins_key.tar.labels")"
}

for name in registry pebble; do
  tag_var=${name}_tag bin_var=${name}_bin ver_var=${name}_version
  deb_tag_var=${name}_deb_tag
  if [ -n "${go_job[$name]:-}" ]; then
    if wait "${go_job[$name]}"; then
      say "go install $name done"
    else
      say "go install of $name failed; last lines of $BED_CACHE/logs/go-$name.log:"
      tail -n 30 "$BED_CACHE/logs/go-$name.log" >&2 || true
    fi
  fi
  image_exists "${!tag_var}" && continue
  if ! forced "$name" && [ -s "${!bin_var}" ]; then
    ctx=$(new_ctx "$name")
    cp "${!bin_var}" "$ctx/$name"
    chmod 0755 "$ctx/$name"
    build_image "$name" "${!tag_var}" "$base_img" "${!ver_var}" "$ctx"
    built+=("$name")
    continue
  fi
  # Debian fallback
  printf -v "$tag_var" '%s' "${!deb_tag_var}"
  image_exists "${!tag_var}" && continue
  say "$name: using the binary of Debian's package (fallback)"
  ctx=$(new_ctx "$name")
  if [ "$name" = registry ]; then
    debian_binary docker-registry "$ctx/registry"
    ver=$(debian_version docker-registry)
    # distribution 2.8 reads "tag:" under storage as a storage driver name
    sed -i '/^    tag:$/,/concurrencylimit/d' "$ctx/config.yml"
  else
    debian_binary pebble "$ctx/pebble"
    ver=$(debian_version pebble)
  fi
  build_image "$name" "${!tag_var}" "$base_img" "$ver" "$ctx"
  built+=("$name-debian")
done

s3_out=
if [ -n "${go_job[versitygw]:-}" ]; then
  if wait "${go_job[versitygw]}"; then
    say "go install versitygw done"
    built+=(versitygw)
  else
    say "go install of versitygw failed; last lines of $BED_CACHE/logs/go-versitygw.log:"
    tail -n 30 "$BED_CACHE/logs/go-versitygw.log" >&2 || true
  fi
fi
if [ -s "$versitygw_bin" ]; then
  s3_out=$s3_version
else
  say "no S3 server binary (versitygw needs the Go module proxy): the S3 storage tests will fail"
  versitygw_bin=
fi

# Drop rootfs tarballs of older recipes (same suite and kind, other key).
if [ ${#built[@]} -gt 0 ]; then
  for kind_img in "base=$base_img" "nginx=$nginx_base" "nginx-build=$nginx_build_base" "certbot=$certbot_base" \
    "certbot-deb=$certbot_deb_base" "bind9=$bind9_base" "redis=$redis_base" "bins=$bins_img"; do
    kind=${kind_img%%=*} key=${kind_img##*:}
    for f in "$BED_CACHE/rootfs/$suite-$kind-"*.tar; do
      [ -e "$f" ] || continue
      [[ ${f##*/} =~ ^$suite-$kind-([0-9a-f]{12})\.tar$ ]] || continue
      [ "${BASH_REMATCH[1]}" = "$key" ] || rm -f "$f" "$f.labels"
    done
  done
fi

# ---------------------------------------------------------------------- output
for name in nginx registry certbot pebble bind9 redis; do
  tag_var=${name}_tag
  image_exists "${!tag_var}" || die "image ${!tag_var} missing after the build"
done
nginx_out=$(image_label "$nginx_tag" registry-bed.version)
registry_out=$(image_label "$registry_tag" registry-bed.version)
certbot_out=$(image_label "$certbot_tag" registry-bed.version)
pebble_out=$(image_label "$pebble_tag" registry-bed.version)
bind9_out=$(image_label "$bind9_tag" registry-bed.version)
redis_out=$(image_label "$redis_tag" registry-bed.version)

mkdir -p "$(dirname "$IMAGES_ENV")"
tmp_env=$(mktemp "$IMAGES_ENV.XXXXXX")
cat >"$tmp_env" <<EOF
# Written by test/bed/images.sh; do not edit.
NGINX_IMAGE=$nginx_tag
REGISTRY_IMAGE=$registry_tag
CERTBOT_IMAGE=$certbot_tag
PEBBLE_IMAGE=$pebble_tag
BIND9_IMAGE=$bind9_tag
REDIS_IMAGE=$redis_tag
NGINX_VERSION=$nginx_out
REGISTRY_VERSION=$registry_out
CERTBOT_VERSION=$certbot_out
PEBBLE_VERSION=$pebble_out
BIND9_VERSION=$bind9_out
REDIS_VERSION=$redis_out
S3_SERVER_BIN=$versitygw_bin
S3_SERVER_VERSION=$s3_out
EOF
chmod 0644 "$tmp_env"
mv "$tmp_env" "$IMAGES_ENV"

if [ ${#built[@]} -gt 0 ]; then
  say "built: ${built[*]} in $(($(date +%s) - start_time))s; wrote $IMAGES_ENV"
else
  say "all images cached ($(($(date +%s) - start_time))s); wrote $IMAGES_ENV"
fi
s3_desc=${s3_out:+versitygw $s3_out}
echo "images: nginx ${nginx_out/-njs/ + njs }, registry $registry_out, certbot $certbot_out, pebble $pebble_out, bind9 $bind9_out, redis $redis_out; S3 server: ${s3_desc:-none}"
