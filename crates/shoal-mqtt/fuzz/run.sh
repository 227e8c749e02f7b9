#!/usr/bin/env bash
# Fuzzes shoal-mqtt's decoder for a bounded time: ./run.sh SECONDS (default 60). See
# scripts/fuzz.
set -euo pipefail
here="$(dirname "$0")"
exec "$here/../../../scripts/fuzz" "$here" "${1:-60}" decode
