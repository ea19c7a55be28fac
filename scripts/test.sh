#!/usr/bin/env bash
# The one test command of the README: installs what the tests need (Debian and Python packages,
# a Kafka broker from Maven Central), starts the broker, then runs the style checks and every
# test against it. Idempotent; safe to run again and again.
#
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh -- NAME    only tests whose name contains NAME (args after -- go to cargo test)
#
# Environment: ALARA_KAFKA_PORT (default 19092), CARGO_TARGET_DIR (build cache), CI=true makes a
# missing broker or interop tool a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "test dependencies (kcat, chromium, pyarrow, duckdb)"
scripts/test-deps.sh

step "Kafka broker (KRaft, single node)"
# Stop the broker at the end only if this run started it: a developer's running broker stays up.
started_broker=0
scripts/kafka.sh status >/dev/null 2>&1 || started_broker=1
ALARA_TEST_KAFKA="$(scripts/kafka.sh start)"
export ALARA_TEST_KAFKA
cleanup() { if [ "$started_broker" = 1 ]; then scripts/kafka.sh stop >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
if [ "${1:-}" = "--" ]; then shift; fi
cargo test --workspace --locked -- "$@"
