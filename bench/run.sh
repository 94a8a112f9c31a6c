#!/usr/bin/env bash
# `npm run bench`: the full benchmark (1 GiB layers, 3 interleaved runs) on the live bed.
# Same prerequisites as the tests; results in bench/results/latest.{json,md}, and for several
# hosts (bench/hosts.ts) in bench/results/hosts.{json,md}, for how the cost grows (bench/scale.ts:
# repository rules, the GC and retention window) in bench/results/scale.{json,md}, and what
# metrics cost (bench/metrics.ts: the small-layer and 1 GiB rows, metrics off and on) in
# bench/results/metrics.{json,md}; for pull-through mirrors (bench/mirrors.ts: cold, warm and
# direct pulls of a 256 MiB image) in bench/results/mirrors.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_TESTS=1 bash test/run.sh
# shellcheck source=test/bed/toolchain.sh
source test/bed/toolchain.sh
node --import tsx bench/bench.ts
node --import tsx bench/hosts.ts
node --import tsx bench/scale.ts
node --import tsx bench/metrics.ts
node --import tsx bench/mirrors.ts
