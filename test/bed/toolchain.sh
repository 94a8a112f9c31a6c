# Sourced by test/run.sh and bench/run.sh: puts the Pulumi CLI, its nodejs language host and
# the docker, command and random providers on PATH. A `pulumi` already on PATH (installed the
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
  export PATH="$toolchain_bin:$PATH"
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
fi
pulumi version
