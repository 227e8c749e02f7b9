#!/usr/bin/env bash
# Fuzzes Shoal's parsers of untrusted text for a bounded time: ./run.sh SECONDS (per target,
# default 60). Installs cargo-fuzz when missing; works on a stable toolchain (RUSTC_BOOTSTRAP=1
# lets stable rustc accept the -Z flags cargo-fuzz passes). Findings land in artifacts/TARGET/;
# the corpus grows in corpus/TARGET/, seeded from seeds/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}/fuzz-parsers"
for target in fleetquery policy shadow; do
  mkdir -p "corpus/$target"
  echo "== fuzz $target ($secs s)"
  cargo fuzz run --target-dir "$CARGO_TARGET_DIR" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -max_len=8192 -print_final_stats=1 2>&1 | tail -n 3
done
