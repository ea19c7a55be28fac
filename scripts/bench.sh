#!/usr/bin/env bash
# Reproducible end-to-end benchmark. Every alara timing is printed next to a reference run of a
# tool we did not write, on the same machine, in the same run, on the same data, as a ratio:
#
#   ingest files   alara ingest (JSONL/CSV → validated Parquet lake)  vs  DuckDB read_json → Parquet
#   query          alara sql, 12-month rolling sums per worker         vs  DuckDB, same SQL, same Parquet
#   kafka          alara ingest --kafka --until-idle                   vs  kcat consuming the topic raw
#
# Usage: scripts/bench.sh [WORKERS] (default 2000 workers × 24 months, a few million readings).
# Builds alara with the release profile (about half an hour cold on 2 cores; incremental after).
# Needs scripts/test-deps.sh (kcat, duckdb) and Java for the broker. Never run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS="${1:-2000}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/alara-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

scripts/test-deps.sh >/dev/null
echo "== building alara (release)" >&2
cargo build --release --locked --bin alara >&2
ALARA="${CARGO_TARGET_DIR:-target}/release/alara"
PY="${PYTHON:-python3}"

now() { date +%s.%N; }
secs() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
ratio() { "$PY" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}' if b > 0 else 'n/a')" "$1" "$2"; }
row() { printf '%-16s %12s %10ss %12s %10ss %8sx\n' "$1" "$2" "$3" "$4" "$5" "$(ratio "$3" "$5")"; }

echo "== generating $WORKERS workers" >&2
"$ALARA" generate --out "$WORK/in" --workers "$WORKERS" --months 24 --seed 7 >&2
LINES=$(wc -l < "$WORK/in/readings.jsonl")

printf '\n%-16s %12s %11s %12s %11s %9s\n' "benchmark" "alara" "time" "reference" "time" "ratio"

# 1. File ingest.
t0=$(now)
"$ALARA" ingest --lake "$WORK/lake" --readings "$WORK/in/readings.jsonl" >/dev/null
t1=$(now)
"$PY" - "$WORK" <<'PY'
import duckdb, sys
w = sys.argv[1]
duckdb.sql(f"COPY (SELECT * FROM read_json('{w}/in/readings.jsonl', format='newline_delimited', ignore_errors=true)) "
           f"TO '{w}/duck.parquet' (FORMAT parquet, COMPRESSION zstd)")
PY
t2=$(now)
row "ingest $LINES" "alara" "$(secs "$t0" "$t1")" "duckdb" "$(secs "$t1" "$t2")"

# 2. The rolling 12-month query, on the very same Parquet files.
SQL="SELECT worker_id, quantity, period_end, SUM(COALESCE(dose_msv, 0)) OVER (PARTITION BY worker_id, quantity ORDER BY period_end RANGE BETWEEN INTERVAL '1 year -1 millisecond' PRECEDING AND CURRENT ROW) AS rolling_msv FROM readings_all WHERE monitoring <> 'operational'"
t0=$(now)
"$ALARA" sql --lake "$WORK/lake" --format csv -c "SELECT COUNT(*) AS n, ROUND(SUM(rolling_msv), 3) AS s FROM ($SQL)" > "$WORK/q-alara.csv"
t1=$(now)
"$PY" - "$WORK" "$SQL" > "$WORK/q-duck.csv" <<'PY'
import duckdb, sys
w, sql = sys.argv[1], sys.argv[2]
duckdb.sql(f"CREATE VIEW readings_all AS SELECT * FROM read_parquet('{w}/lake/readings/**/*.parquet', hive_partitioning=true)")
print(duckdb.sql(f"SELECT COUNT(*) AS n, ROUND(SUM(rolling_msv), 3) AS s FROM ({sql.replace(\"INTERVAL '1 year -1 millisecond'\", \"INTERVAL '1 year' - INTERVAL '1 millisecond'\")})").fetchall())
PY
t2=$(now)
row "rolling query" "alara sql" "$(secs "$t0" "$t1")" "duckdb" "$(secs "$t1" "$t2")"
echo "   results: alara $(tail -1 "$WORK/q-alara.csv") / duckdb $(cat "$WORK/q-duck.csv")"

# 3. Kafka: the same readings through a real broker.
if BOOT="$(scripts/kafka.sh start 2>/dev/null)"; then
    TOPIC="bench.readings.$$"
    kcat -b "$BOOT" -P -t "$TOPIC" -K '\t' -l <("$PY" -c "
import sys, json
for i, line in enumerate(open(sys.argv[1])):
    line = line.strip()
    if line: print(f'{i % 16}\t{line}')" "$WORK/in/readings.jsonl")
    t0=$(now)
    kcat -b "$BOOT" -C -t "$TOPIC" -o beginning -e -q > /dev/null
    t1=$(now)
    ALARA_KAFKA__TOPICS__READINGS="$TOPIC" "$ALARA" ingest --lake "$WORK/klake" --kafka "$BOOT" --group "bench-$$" --until-idle >/dev/null 2>&1
    t2=$(now)
    row "kafka $LINES" "alara" "$(secs "$t1" "$t2")" "kcat raw" "$(secs "$t0" "$t1")"
else
    echo "kafka: broker unavailable, skipped" >&2
fi

# 4. Alert latency: a reading's arrival in Kafka to its webhook alert (goal: p99 < 1 s at 5,000/s).
if [ -n "${BOOT:-}" ]; then
    echo "== alert latency (Kafka → webhook), 5,000 readings/s" >&2
    "$PY" scripts/alert-latency.py --alara "$ALARA" --broker "$BOOT" --rate 5000 --seconds 20 || true
fi
