#!/usr/bin/env bash
# The one test command of the README: installs what the tests need (Debian and Python packages,
# a Kafka broker and Spark's Delta connector from Maven Central), starts the broker and a local
# S3 server (moto), then runs the style checks and every test against them. Idempotent; safe to
# run again and again.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh -- NAME    only tests whose name contains NAME (args after -- go to cargo test)
#
# Environment: ALARA_KAFKA_PORT (default 19092), ALARA_S3_PORT (default 19500), CARGO_TARGET_DIR
# (build cache), CI=true makes a missing broker or interop tool a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "test dependencies (kcat, chromium, pyarrow, duckdb, pyspark + delta-spark, deltalake, polars, moto)"
scripts/test-deps.sh

step "Kafka broker (KRaft, single node)"
# Stop the broker at the end only if this run started it: a developer's running broker stays up.
started_broker=0
scripts/kafka.sh status >/dev/null 2>&1 || started_broker=1
ALARA_TEST_KAFKA="$(scripts/kafka.sh start)"
export ALARA_TEST_KAFKA
started_s3=0
cleanup() {
    if [ "$started_broker" = 1 ]; then scripts/kafka.sh stop >/dev/null 2>&1 || true; fi
    if [ "$started_s3" = 1 ]; then scripts/s3.sh stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

step "S3-compatible server (moto, for s3:// lakes)"
# Same rule: stopped at the end only if this run started it.
scripts/s3.sh status >/dev/null 2>&1 || started_s3=1
ALARA_TEST_S3="$(scripts/s3.sh start)"
export ALARA_TEST_S3

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
if [ "${1:-}" = "--" ]; then shift; fi
cargo test --workspace --locked -- "$@"
