#!/usr/bin/env bash
# The long run of the property tests ("fuzzing") of every decoder and validator: JSON, CSV (`,`,
# `;`, decimal comma), Kafka payloads, timestamps, NIR, SIRET, file decoding. `cargo test` runs the
# same properties with 256 cases each; this script runs them with ALARA_FUZZ_CASES cases each and
# prints the executions per target and the total. Exit status non-zero on any failure or panic.
#
#   ALARA_FUZZ_CASES   cases per property (default 200000)
#   CARGO_TARGET_DIR   as usual; the dev profile is used
#   ALARA_FUZZ_RELEASE when set, the properties of crates/model (every one but the file-decoding
#                      property of crates/ingest) run optimised, about 30 times faster, built in a
#                      target directory of their own ($CARGO_TARGET_DIR/fuzz-release, a few
#                      minutes the first time) so the workspace's dev build is left as it is
#   ALARA_FUZZ_DEV_CASES  with ALARA_FUZZ_RELEASE, cases of the dev-profile property (default: the same)
#   NICE               niceness of the run (default 19: it runs beside builds on shared cores)
#
# Usage: scripts/fuzz.sh [cargo test filter, default: fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${ALARA_FUZZ_CASES:-200000}"
filter="${1:-fuzz}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s)
status=0
# --workspace (not -p): the same feature set as the test command, so nothing is rebuilt for it.
echo "[fuzz] $cases cases per property (filter '$filter')" >&2
if [ -n "${ALARA_FUZZ_RELEASE:-}" ]; then
    release_dir="${CARGO_TARGET_DIR:-target}/fuzz-release"
    echo "[fuzz] crates/model optimised (target $release_dir), crates/ingest in the dev profile" >&2
    ALARA_FUZZ_CASES="$cases" CARGO_TARGET_DIR="$release_dir" nice -n "${NICE:-19}" \
        cargo test -q --release --locked -p alara-model --lib -- "$filter" --nocapture --test-threads 2 \
        >>"$log" 2>&1 || status=$?
    ALARA_FUZZ_CASES="${ALARA_FUZZ_DEV_CASES:-$cases}" nice -n "${NICE:-19}" cargo test -q --workspace --lib -- fuzz_file_contents_and_kafka_payloads \
        --nocapture --test-threads 2 >>"$log" 2>&1 || status=$?
else
    ALARA_FUZZ_CASES="$cases" nice -n "${NICE:-19}" cargo test -q --workspace --lib -- "$filter" --nocapture --test-threads 2 \
        >>"$log" 2>&1 || status=$?
fi
# -o: the test harness interleaves its progress dots with the properties' lines.
grep -oE 'fuzz [a-z_]+: [0-9]+ executions' "$log" | sort || true
total=$(grep -oE 'fuzz [a-z_]+: [0-9]+ executions' "$log" | awk '{s += $3} END {print s + 0}')
if grep -q 'panicked' "$log" || [ "$status" -ne 0 ]; then
    grep -E -B2 -A20 'panicked|FAILED|failed' "$log" | head -80 >&2
    echo "[fuzz] FAILED after $total executions ($(( $(date +%s) - start )) s)" >&2
    exit 1
fi
echo "[fuzz] total: $total executions, no panic, no failed property ($(( $(date +%s) - start )) s)"
