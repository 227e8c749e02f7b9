#!/usr/bin/env bash
# Fuzzes shoal-mqtt's decoder for a bounded time: ./run.sh SECONDS (default 60).
# Installs cargo-fuzz when missing. Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets stable
# rustc accept the -Z flags cargo-fuzz passes (sanitizer, coverage instrumentation). Findings
# land in artifacts/decode/; the growing corpus in corpus/decode/, seeded from seeds/.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/shoal-target}/fuzz"
mkdir -p corpus/decode
exec cargo fuzz run --target-dir "$CARGO_TARGET_DIR" decode corpus/decode seeds -- \
  -max_total_time="$secs" -max_len=4096 -print_final_stats=1
