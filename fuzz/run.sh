#!/usr/bin/env bash
# Fuzzes Shoal's parsers of untrusted text (fleet queries, IoT policies, shadow documents, S3's
# aws-chunked bodies, provisioning templates, Logs Insights queries, filter patterns, AWS IoT SQL) for a bounded time: ./run.sh SECONDS (per target, default 60). See
# scripts/fuzz.
set -euo pipefail
here="$(dirname "$0")"
FUZZ_MAX_LEN=8192 exec "$here/../scripts/fuzz" "$here" "${1:-60}" fleetquery policy shadow awschunked template insights filterpattern iotsql
