# Sourced by test/run.sh and bench/run.sh: puts the Pulumi CLI, its nodejs, Python and YAML
# language hosts and the docker, command and random providers on PATH. A `pulumi` already on PATH (installed the
# usual way) is used as is; otherwise they are built from source by the team's toolchain
# script (no download site is reachable here; ~12 min cold, instant warm), whose providers
# Pulumi finds on PATH, so nothing may be downloaded.
if ! command -v pulumi >/dev/null; then
  toolchain=${PULUMI_TOOLCHAIN_BUILD:-}
  for candidate in "$PWD/../shared/pulumi-toolchain/build.sh" /work/shared/pulumi-toolchain/build.sh; do
    if [ -z "$toolchain" ] && [ -f "$candidate" ]; then toolchain=$candidate; fi
  done
  if [ -z "$toolchain" ]; then
    echo "no pulumi on PATH: install it (https://www.pulumi.com/docs/install/) or set PULUMI_TOOLCHAIN_BUILD to the toolchain's build.sh" >&2
    exit 1
  fi
  printf '\n== pulumi toolchain (%s)\n' "$toolchain"
  toolchain_bin=$(bash "$toolchain" --print-bin)
  # The Python and YAML language hosts (programs that use the component package, plugin/).
  languages_bin=$(bash "$(dirname "$toolchain")/languages.sh" --print-bin)
  # The YAML host 1.25.0 is built on the Pulumi SDK 3.206.0, whose plugin loader starts a
  # language host with -root=<dir>, a flag the 3.248.0 nodejs host no longer has: a Pulumi
  # release bundles hosts that agree. This wrapper, first on PATH, drops it.
  compat_bin=/tmp/registry-bed-compat && mkdir -p "$compat_bin"
  printf '#!/bin/sh\nfor a; do shift; case "$a" in -root=*) ;; *) set -- "$@" "$a" ;; esac; done\nexec %s/pulumi-language-nodejs "$@"\n' "$toolchain_bin" > "$compat_bin/pulumi-language-nodejs"
  chmod +x "$compat_bin/pulumi-language-nodejs"
  export PATH="$compat_bin:$toolchain_bin:$languages_bin:$PATH"
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
fi
pulumi version
