#!/usr/bin/env bash
# Reproducible end-to-end benchmark (issue 13). Every alara figure is taken next to a reference run
# of a tool we did not write, on the same machine, in the same run, on the same data:
#
#   kafka         alara ingest --kafka --until-idle, a 6-partition topic       vs  kcat -C -e (raw)
#   ingest RSS    peak resident memory of that ingest, alerts on, on a backlog of 1 M, 5 M and 10 M:
#                 one hospital's staff over 24, 120 and 240 months (a backlog grows with time)
#   file ingest   alara ingest --readings (JSONL → validated lake)             vs  DuckDB read_json → Parquet
#   views         overexposure, missing_badge, unexplained_heterogeneity       vs  DuckDB running the same
#                 on the 10 M lake: wall time and peak memory                       view files on the same
#                                                                                   Parquet files, where it can
#   report        alara report on that lake: wall time and peak memory
#   start-up      alara ingest --kafka on that lake until its first message is received (metrics)
#   alert         produce → webhook latency at 5,000 readings/s, default configuration
#                 (scripts/alert-latency.py): p50, p99
#
# Prints a table on stdout and writes bench.json (every figure and ratio, the machine, the
# versions). A figure that could not be taken is null in bench.json with KEY_reason beside it.
#
# Usage: scripts/bench.sh [--quick] [--out FILE]
#   (default)  the issue's sizes: 1 M, 5 M and 10 M readings in Kafka, a 10 M-reading lake. Hours
#              on 2 cores, and tens of GB of disk under $TMPDIR.
#   --quick    the same steps on ≈ 50 k / 250 k / 500 k readings and a 200 k lake (bench.json has
#              the counts generate really gave): a few minutes on 2 cores once built.
#   --out F    where bench.json goes (default: ./bench.json)
#
# Environment:
#   ALARA_BIN    the alara binary (default: build ${CARGO_TARGET_DIR:-target}/release/alara with
#                `cargo build --release --locked`, about half an hour cold on 2 cores)
#   BENCH_PORT   port of the private Kafka broker (default 19292; the tests' broker is not touched)
#   BENCH_KEEP   keep the work directory (data, lakes, logs) when set
#   BENCH_READINGS="SMALL LARGE LAKE [HUGE]", BENCH_ALERT_SECONDS: other sizes, to try the script out
#   BENCH_STEPS  the steps to run, of: files views identity report kafka startup alerts (default:
#                all); e.g. BENCH_STEPS=kafka for the Kafka rate and the memory with backlog only
#
# Needs kcat, Python duckdb and deltalake (scripts/test-deps.sh installs them), Java 17 for the
# broker (scripts/kafka.sh), GNU time (/usr/bin/time, Debian `time`). Never run by CI: it measures
# time, the tests check behaviour.
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
OUT="$PWD/bench.json"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) OUT="$(realpath -m "$2")"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Sizes in readings. `alara generate` writes about 382 readings per worker over 24 months
# (2,000 workers gave 916,450), so the worker count is chosen from the wanted readings.
if [ "$QUICK" = 1 ]; then
    SIZE=quick BACKLOG_SMALL=50000 BACKLOG_LARGE=250000 BACKLOG_HUGE=500000 LAKE_READINGS=200000 ALERT_SECONDS=10
else
    SIZE=full BACKLOG_SMALL=1000000 BACKLOG_LARGE=5000000 BACKLOG_HUGE=10000000 LAKE_READINGS=10000000 ALERT_SECONDS=20
fi
# BENCH_READINGS="SMALL LARGE LAKE" overrides the three sizes (to try the script out quickly).
if [ -n "${BENCH_READINGS:-}" ]; then
    read -r BACKLOG_SMALL BACKLOG_LARGE LAKE_READINGS huge <<<"$BENCH_READINGS"
    BACKLOG_HUGE="${huge:-$(( BACKLOG_LARGE * 2 ))}"
    SIZE="custom ($BENCH_READINGS)"
fi
ALERT_SECONDS="${BENCH_ALERT_SECONDS:-$ALERT_SECONDS}"
STEPS=" ${BENCH_STEPS:-files views identity report kafka startup alerts} "
STEPS="${STEPS//,/ }"
step() { [[ "$STEPS" == *" $1 "* ]]; }
READINGS_PER_WORKER=382
MONTHS=24
PARTITIONS=6
VIEWS=(overexposure missing_badge unexplained_heterogeneity)

PY="${PYTHON:-python3}"
HELPER="scripts/bench-helper.py"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/alara-bench.XXXXXX")"
RESULTS="$WORK/results.tsv"      # KEY<TAB>num|str|null<TAB>value (for null: the reason)
TABLE="$WORK/table.txt"
: >"$RESULTS"
: >"$TABLE"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# A private broker, like scripts/soak.sh: its data goes with $WORK and the tests' broker on 19092
# is left alone (and does not disturb the figures).
export ALARA_KAFKA_PORT="${BENCH_PORT:-19292}" ALARA_KAFKA_DIR="$WORK/kafka"
BROKER=""
cleanup() {
    [ -n "$BROKER" ] && scripts/kafka.sh stop >/dev/null 2>&1
    if [ -n "${BENCH_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ------------------------------------------------------------------ figures and the table

put() {                                                         # a number
    if is_num "${2:-}"; then printf '%s\tnum\t%s\n' "$1" "$2" >>"$RESULTS"; else put_null "$1" "not computable (${2:-empty})"; fi
}
put_str() { printf '%s\tstr\t%s\n' "$1" "${2//$'\t'/ }" >>"$RESULTS"; }
put_null() {                                                    # a figure not taken, and why
    printf '%s\tnull\t%s\n' "$1" "${2//$'\t'/ }" >>"$RESULTS"
    log "$1: not measured: $2"
}
# put_or_null KEY VALUE REASON: VALUE when it is a number, else null with REASON.
put_or_null() { if is_num "$2"; then put "$1" "$2"; else put_null "$1" "$3"; fi; }
is_num() { [[ "${1:-}" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }

# Floating-point arithmetic (awk: no bc needed). calc FORMAT EXPRESSION. The parentheses matter:
# in awk's printf a bare `a > b` is an output redirection.
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
now() { date +%s.%N; }
# ratio A B: A / B with 2 decimals, or "n/a" when either is missing or B is 0.
ratio() {
    if is_num "${1:-}" && is_num "${2:-}" && [ "$(calc '%d' "$2 > 0")" = 1 ]; then calc '%.2f' "$1 / $2"; else echo n/a; fi
}

# row BENCHMARK ALARA REFERENCE RATIO RSS: one line of the printed table.
row() { printf '%-40s %22s %28s %6s %10s\n' "$1" "$2" "$3" "$4" "$5" | tee -a "$TABLE" >&2; }

# measure NAME CMD...: runs CMD under GNU time; sets WALL (s) and RSS (MiB, peak resident set).
# Returns CMD's status, so callers write `measure … || status=$?` under set -e.
WALL="" RSS=""
measure() {
    local name="$1" t0 status=0
    shift
    t0=$(now)
    /usr/bin/time -v -o "$WORK/$name.time" "$@" || status=$?
    WALL=$(calc '%.3f' "$(now) - $t0")
    RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$WORK/$name.time")
    return "$status"
}

# ------------------------------------------------------------------ tools, machine, versions

preflight() {
    [ -x /usr/bin/time ] || die "GNU time not found at /usr/bin/time (apt-get install time)"
    if ! command -v kcat >/dev/null || ! "$PY" -c 'import duckdb, deltalake' 2>/dev/null; then
        log "installing kcat / duckdb / deltalake (scripts/test-deps.sh)"
        scripts/test-deps.sh >&2
    fi
    if [ -n "${ALARA_BIN:-}" ]; then
        ALARA="$ALARA_BIN"
    else
        log "building alara (release; a no-op when up to date)"
        cargo build --release --locked --bin alara >&2
        ALARA="${CARGO_TARGET_DIR:-target}/release/alara"
    fi
    ALARA="$(realpath "$ALARA")"
    [ -x "$ALARA" ] || die "no alara binary at $ALARA"
}

record_machine() {
    put_str size "$SIZE"
    put_str date "$(date -u +%FT%TZ)"
    put nproc "$(nproc)"
    put mem_total_mib "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    put_str cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    put_str loadavg_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
    put_str kernel "$(uname -sr)"
    put_str alara_version "$("$ALARA" --version)"
    put_str git_commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
    put_str rustc_version "$(rustc --version 2>/dev/null || echo unknown)"
    put_str kcat_version "$(kcat -V 2>&1 | grep -o -m1 'Version [^ ]*' || echo unknown)"
    put_str duckdb_version "$("$PY" -c 'import duckdb; print(duckdb.__version__)')"
    put_str deltalake_version "$("$PY" -c 'import deltalake; print(deltalake.__version__)')"
    put_str python_version "$("$PY" --version 2>&1)"
    put_str java_version "$(java -version 2>&1 | head -n1)"
    put_str kafka_version "${ALARA_KAFKA_VERSION:-4.4.0}"
}

# generate NAME READINGS SEED [MONTHS]: a generated hospital of about READINGS readings over MONTHS
# months (default $MONTHS) in $WORK/NAME. READINGS_PER_WORKER is per $MONTHS months.
generate() {
    local months="${4:-$MONTHS}"
    local workers=$(( ($2 * MONTHS + READINGS_PER_WORKER * months - 1) / (READINGS_PER_WORKER * months) ))
    [ "$workers" -ge 22 ] || workers=22   # the injected anomalies need 22 workers
    log "generating $1: $workers workers × $months months (≈ $2 readings)"
    "$ALARA" generate --out "$WORK/$1" --workers "$workers" --months "$months" --seed "$3" >/dev/null
    put "readings_$1" "$(wc -l <"$WORK/$1/readings.jsonl")"
    put "workers_$1" "$workers"
}
lines() { wc -l <"$WORK/$1/readings.jsonl"; }

# ------------------------------------------------------------------ Kafka

# kafka_config NAME READINGS_TOPIC: an alara.toml for one Kafka run, alerts on (a log hook).
kafka_config() {
    cat >"$WORK/$1.toml" <<EOF
[kafka.topics]
readings = "$2"
workers = "$2.workers"
procedures = "$2.procedures"

[[hooks]]
kind = "log"
path = "$WORK/$1-alerts.jsonl"
EOF
}

# produce NAME: the readings of $WORK/NAME into a fresh 6-partition topic bench.NAME.
produce() {
    scripts/kafka.sh create-topic "bench.$1" "$PARTITIONS" "$BROKER" 2>>"$WORK/broker.log"
    log "producing $(lines "$1") readings into bench.$1 ($PARTITIONS partitions)"
    kcat -P -b "$BROKER" -t "bench.$1" -X queue.buffering.max.messages=1000000 -l "$WORK/$1/readings.jsonl"
}

# kafka_ingest NAME: alara ingest --until-idle of topic bench.NAME into a fresh lake; sets WALL
# (the whole process: start-up, consumption, the last flush, the idle check), RSS and CONSUMED (rows in readings_all + rejects_all, to check the whole topic went in).
kafka_ingest() {
    CONSUMED=""
    kafka_config "$1" "bench.$1"
    measure "kafka-$1" "$ALARA" --config "$WORK/$1.toml" ingest --lake "$WORK/klake-$1" --kafka "$BROKER" \
        --group "bench-$1" --until-idle >"$WORK/kafka-$1.log" 2>&1 \
        || { tail -n 20 "$WORK/kafka-$1.log" >&2; return 1; }
    local w="$WALL" r="$RSS"
    CONSUMED=$("$ALARA" sql --lake "$WORK/klake-$1" --format csv \
        -c "SELECT (SELECT count(*) FROM readings_all) + (SELECT count(*) FROM rejects_all) AS n" | tail -n1)
    WALL="$w" RSS="$r"
    # Alerts were on: how many the log hook got (evidence in bench.json, not a figure).
    local alerts=0
    [ -f "$WORK/$1-alerts.jsonl" ] && alerts=$(wc -l <"$WORK/$1-alerts.jsonl")
    put "kafka_alerts_$1" "$alerts"
}

bench_kafka() {
    produce backlog_small
    produce backlog_large
    local n_small n_large n_huge kcat_s kcat_rate alara_rate rss_large="" rss_small=""
    n_small=$(lines backlog_small)
    n_large=$(lines backlog_large)

    # The reference: kcat reading the large topic raw, to /dev/null.
    local t0
    t0=$(now)
    kcat -C -b "$BROKER" -t bench.backlog_large -o beginning -e -q >/dev/null
    kcat_s=$(calc '%.3f' "$(now) - $t0")
    kcat_rate=$(calc '%.0f' "$n_large / $kcat_s")
    put kcat_s "$kcat_s"
    put kcat_readings_per_s "$kcat_rate"

    log "alara ingest of the large backlog ($n_large readings)"
    if kafka_ingest backlog_large && [ "$CONSUMED" -ge "$n_large" ]; then
        alara_rate=$(calc '%.0f' "$n_large / $WALL")
        put kafka_ingest_s "$WALL"
        put kafka_readings_per_s "$alara_rate"
        put kafka_vs_kcat "$(ratio "$alara_rate" "$kcat_rate")"
        put ingest_rss_mib_5m "$RSS"
        row "kafka ingest $n_large (6 part.)" "$alara_rate/s" "kcat -C -e $kcat_rate/s" \
            "$(ratio "$alara_rate" "$kcat_rate")" "$RSS MiB"
        rss_large="$RSS"
    else
        put_null kafka_vs_kcat "alara ingest failed or stopped early (${CONSUMED:-?} of $n_large rows)"
        put_null ingest_rss_mib_5m "alara ingest of the large backlog failed or stopped early"
    fi

    log "alara ingest of the small backlog ($n_small readings)"
    if kafka_ingest backlog_small && [ "$CONSUMED" -ge "$n_small" ]; then
        rss_small="$RSS"
        put ingest_rss_mib_1m "$RSS"
        put ingest_rss_large_over_small "$(ratio "$rss_large" "$RSS")"
        row "ingest peak RSS $n_small → $n_large" "$RSS → $rss_large MiB" "flat: ≤ 1.2" \
            "$(ratio "$rss_large" "$RSS")" ""
    else
        put_null ingest_rss_mib_1m "alara ingest of the small backlog failed or stopped early"
    fi

    # The 10 M point of issue 9 (memory only): the topics before it are deleted from the broker's
    # disk first, it is large.
    rm -rf "$WORK/klake-backlog_large" "$WORK/klake-backlog_small"
    produce backlog_huge
    n_huge=$(lines backlog_huge)
    rm -rf "$WORK/backlog_huge"
    log "alara ingest of the huge backlog ($n_huge readings)"
    if kafka_ingest backlog_huge && [ "$CONSUMED" -ge "$n_huge" ]; then
        put ingest_rss_mib_10m "$RSS"
        put kafka_readings_per_s_10m "$(calc '%.0f' "$n_huge / $WALL")"
        put ingest_rss_huge_over_small "$(ratio "$RSS" "$rss_small")"
        row "ingest peak RSS $n_small → $n_huge" "${rss_small:-?} → $RSS MiB" "flat: ≤ 1.2" \
            "$(ratio "$RSS" "$rss_small")" ""
    else
        put_null ingest_rss_mib_10m "alara ingest of the huge backlog failed or stopped early (${CONSUMED:-?} of $n_huge rows)"
    fi
    rm -rf "$WORK/klake-backlog_huge"
}

# Start-up on the big lake: a fresh topic holding one reading; the time from starting
# `alara ingest --kafka` until its metrics count that message as received.
bench_startup() {
    local topic=bench.startup port t0 secs
    head -n1 "$WORK/lake/readings.jsonl" | kcat -P -b "$BROKER" -t "$topic"
    kafka_config startup "$topic"
    port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    t0=$(now)
    "$ALARA" --config "$WORK/startup.toml" ingest --lake "$WORK/lake-db" --kafka "$BROKER" --group bench-startup \
        --metrics "127.0.0.1:$port" >"$WORK/startup.log" 2>&1 &
    local pid=$!
    if secs=$("$PY" "$HELPER" wait-metric "http://127.0.0.1:$port/metrics" alara_ingest_received_total "$t0" 600); then
        put startup_10m_s "$secs"
        row "start-up on the lake" "${secs} s" "" "" ""
    else
        put_null startup_10m_s "no message received within 600 s (see startup.log)"
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------ the lake: file ingest, views, report

bench_file_ingest() {
    local n duck_s alara_s
    n=$(lines lake)
    log "file ingest of $n readings"
    measure file-ingest "$ALARA" ingest --lake "$WORK/lake-db" --readings "$WORK/lake/readings.jsonl" \
        >"$WORK/file-ingest.log" 2>&1 || { tail -n 20 "$WORK/file-ingest.log" >&2; die "alara file ingest failed"; }
    alara_s="$WALL"
    local alara_rss="$RSS"
    measure duck-ingest "$PY" "$HELPER" duckdb-ingest "$WORK/lake/readings.jsonl" "$WORK/duck.parquet" \
        >"$WORK/duck-ingest.log" 2>&1 || { tail -n 20 "$WORK/duck-ingest.log" >&2; die "DuckDB ingest failed"; }
    duck_s="$WALL"
    put file_ingest_s "$alara_s"
    put file_ingest_peak_rss_mib "$alara_rss"
    put file_ingest_duckdb_s "$duck_s"
    put file_ingest_duckdb_peak_rss_mib "$RSS"
    put file_ingest_vs_duckdb "$(ratio "$alara_s" "$duck_s")"
    row "file ingest $n" "$alara_s s" "DuckDB read_json $duck_s s" "$(ratio "$alara_s" "$duck_s")" "$alara_rss MiB"
    # Workers and procedures too, so the views have what they join (not timed: not compared).
    "$ALARA" ingest --lake "$WORK/lake-db" --workers "$WORK/lake/workers.csv" \
        --procedures "$WORK/lake/procedures.csv" >>"$WORK/file-ingest.log" 2>&1
}

# Each view: alara sql writing every row as CSV vs DuckDB running alara's own view files (unchanged)
# over the same Parquet files, writing every row as CSV. Where DuckDB cannot run the SQL the view is
# reported as not portable, with DuckDB's error, and not compared.
bench_views() {
    local cfg="$WORK/config" t v worst_ratio="" worst_view="" peak="" compared=() not_portable=()
    mkdir -p "$cfg"
    for t in thresholds detect_parameters; do
        "$ALARA" sql --lake "$WORK/lake-db" --format csv -c "SELECT * FROM $t" >"$cfg/$t.csv"
    done
    for v in "${VIEWS[@]}"; do
        log "view $v"
        measure "view-$v" "$ALARA" sql --lake "$WORK/lake-db" --format csv -c "SELECT * FROM $v" \
            >"$WORK/view-$v.csv" 2>"$WORK/view-$v.log" || { tail -n 20 "$WORK/view-$v.log" >&2; die "alara view $v failed"; }
        local a_s="$WALL" a_rss="$RSS" a_rows
        a_rows=$(( $(wc -l <"$WORK/view-$v.csv") - 1 ))
        put "view_${v}_s" "$a_s"
        put "view_${v}_peak_rss_mib" "$a_rss"
        put "view_${v}_rows" "$a_rows"
        if [ -z "$peak" ] || [ "$(calc '%d' "$a_rss > $peak")" = 1 ]; then peak="$a_rss"; fi

        if measure "duck-$v" "$PY" "$HELPER" duckdb-view "$WORK/lake-db" queries "$cfg" "$v" "$WORK/duck-$v.csv" \
            2>"$WORK/duck-$v.log"; then
            local d_s="$WALL" d_rows r
            d_rows=$(( $(wc -l <"$WORK/duck-$v.csv") - 1 ))
            r=$(ratio "$a_s" "$d_s")
            put "view_${v}_duckdb_s" "$d_s"
            put "view_${v}_duckdb_peak_rss_mib" "$RSS"
            put "view_${v}_duckdb_rows" "$d_rows"
            put "view_${v}_vs_duckdb" "$r"
            [ "$a_rows" = "$d_rows" ] || put_str "view_${v}_rows_differ" "alara $a_rows rows, DuckDB $d_rows"
            compared+=("$v")
            if [ -z "$worst_ratio" ] || [ "$(calc '%d' "$r > $worst_ratio")" = 1 ]; then worst_ratio="$r" worst_view="$v"; fi
            row "view $v ($a_rows rows)" "$a_s s" "DuckDB $d_s s ($d_rows)" "$r" "$a_rss MiB"
        else
            local why
            why="not portable to DuckDB: $(tail -n1 "$WORK/duck-$v.log")"
            put_null "view_${v}_vs_duckdb" "$why"
            not_portable+=("$v")
            row "view $v ($a_rows rows)" "$a_s s" "DuckDB: not portable" "n/a" "$a_rss MiB"
            log "  $v: $why"
        fi
    done
    put view_peak_rss_mib "$peak"
    if [ -n "$worst_ratio" ]; then
        put view_vs_duckdb "$worst_ratio"
        put_str view_vs_duckdb_view "$worst_view"
        put_str view_vs_duckdb_over "${compared[*]}"
    else
        put_null view_vs_duckdb "no view's SQL runs on DuckDB: ${not_portable[*]}"
    fi
    [ "${#not_portable[@]}" = 0 ] || put_str views_not_portable "${not_portable[*]}"
}

# The identity view `readings` (queries/readings.sql, which every detection reads) is portable
# (docs/LAKE.md): the one alara-vs-DuckDB comparison of a view's SQL that runs on both. Not part of
# view_vs_duckdb, which is about the detection views.
bench_identity() {
    local sql="SELECT count(*) AS n, round(sum(dose_msv), 3) AS dose_msv FROM readings" a_s a_rss
    log "identity view readings (count and dose sum)"
    measure identity "$ALARA" sql --lake "$WORK/lake-db" --format csv -c "$sql" >"$WORK/identity.csv" \
        2>"$WORK/identity.log" || { tail -n 20 "$WORK/identity.log" >&2; die "alara sql on readings failed"; }
    a_s="$WALL" a_rss="$RSS"
    put identity_readings_s "$a_s"
    put identity_readings_peak_rss_mib "$a_rss"
    put_str identity_readings_result "$(tail -n1 "$WORK/identity.csv")"
    if measure duck-identity "$PY" "$HELPER" duckdb-view "$WORK/lake-db" queries "$WORK/config" readings \
        "$WORK/duck-identity.csv" "$sql" 2>"$WORK/duck-identity.log"; then
        put identity_readings_duckdb_s "$WALL"
        put identity_readings_duckdb_peak_rss_mib "$RSS"
        put_str identity_readings_duckdb_result "$(tail -n1 "$WORK/duck-identity.csv")"
        put identity_readings_vs_duckdb "$(ratio "$a_s" "$WALL")"
        row "identity view readings" "$a_s s" "DuckDB $WALL s" "$(ratio "$a_s" "$WALL")" "$a_rss MiB"
        log "  readings: alara $(tail -n1 "$WORK/identity.csv"), DuckDB $(tail -n1 "$WORK/duck-identity.csv")"
    else
        put_null identity_readings_vs_duckdb "DuckDB failed: $(grep -m1 'Error' "$WORK/duck-identity.log" || tail -n1 "$WORK/duck-identity.log")"
    fi
}

bench_report() {
    local as_of
    as_of=$(date -u +%F)
    log "report as of $as_of"
    if measure report "$ALARA" report --lake "$WORK/lake-db" --as-of "$as_of" --out "$WORK/report" \
        >"$WORK/report.log" 2>&1; then
        put report_10m_s "$WALL"
        put report_peak_rss_mib "$RSS"
        row "nightly report" "$WALL s" "(no reference)" "" "$RSS MiB"
    else
        tail -n 20 "$WORK/report.log" >&2
        put_null report_10m_s "alara report failed: $(tail -n1 "$WORK/report.log")"
        put_null report_peak_rss_mib "alara report failed"
    fi
}

# ------------------------------------------------------------------ alert latency

bench_alerts() {
    log "alert latency, 5,000 readings/s for $ALERT_SECONDS s, default configuration"
    "$PY" scripts/alert-latency.py --alara "$ALARA" --broker "$BROKER" --rate 5000 --seconds "$ALERT_SECONDS" \
        --json "$WORK/alert.json" >"$WORK/alert.log" 2>&1 || true   # exits 1 above its goal: figures stay
    cat "$WORK/alert.log" >&2
    local fig v why p50="" p99="" rate=""
    why="alert-latency.py gave no figure: $(grep -m1 '^alert latency at' "$WORK/alert.log" || tail -n1 "$WORK/alert.log")"
    for fig in p50 p99 rate missing; do
        v=""
        [ -s "$WORK/alert.json" ] && v=$("$PY" -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else (f"{v:.3f}" if isinstance(v, float) else v))' "$WORK/alert.json" "$fig")
        case "$fig" in
            p50) p50="$v"; put_or_null alert_p50_s "$v" "$why" ;;
            p99) p99="$v"; put_or_null alert_p99_s "$v" "$why" ;;
            rate) rate="$v"; put_or_null alert_readings_per_s "$v" "$why" ;;
            missing) put_or_null alert_missing "$v" "$why" ;;
        esac
    done
    row "alert latency at ${rate:-?}/s" "p50 ${p50:-n/a} / p99 ${p99:-n/a} s" "goal: p99 < 1 s" "" ""
}

# ------------------------------------------------------------------ main

preflight
record_machine

# The backlogs are one hospital's staff over more months (same seed, same workers): a backlog grows
# with time, and the alert state is by design workers × the months it keeps ([alerts] state_months),
# so "memory flat with backlog" compares the same staff over 5× and 10× the months.
if step kafka; then
    generate backlog_small "$BACKLOG_SMALL" 1
    generate backlog_large "$BACKLOG_LARGE" 1 $(( MONTHS * BACKLOG_LARGE / BACKLOG_SMALL ))
    generate backlog_huge "$BACKLOG_HUGE" 1 $(( MONTHS * BACKLOG_HUGE / BACKLOG_SMALL ))
fi
if step files || step views || step identity || step report || step startup; then
    generate lake "$LAKE_READINGS" 10
    step files || die "the views, report and start-up read the lake that the files step writes: add files to BENCH_STEPS"
fi

printf '%-40s %22s %28s %6s %10s\n' benchmark alara reference ratio "alara RSS" | tee -a "$TABLE" >&2

step files && bench_file_ingest
step views && bench_views
step identity && bench_identity
step report && bench_report

if ! step kafka && ! step startup && ! step alerts; then
    :
elif log "starting a private Kafka broker on port $ALARA_KAFKA_PORT" && BROKER="$(scripts/kafka.sh start 2>"$WORK/broker.log")"; then
    step kafka && bench_kafka
    step startup && bench_startup     # last on the lake: it adds the one reading it consumes
    step alerts && bench_alerts
else
    tail -n 20 "$WORK/broker.log" >&2
    BROKER=""
    for k in kafka_vs_kcat ingest_rss_mib_1m ingest_rss_mib_5m ingest_rss_mib_10m startup_10m_s alert_p50_s alert_p99_s; do
        put_null "$k" "the Kafka broker did not start (scripts/kafka.sh start)"
    done
fi

put_str loadavg_at_end "$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$HELPER" json "$RESULTS" "$OUT"
echo
echo "alara bench ($SIZE size; $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load at start $(awk -F'\t' '$1 == "loadavg_at_start" { print $3 }' "$RESULTS"))"
cat "$TABLE"
cat <<'EOF'
ratio: kafka = alara's readings/s over kcat's (issue 13 target ≥ 0.8); file ingest, views = alara's
time over DuckDB's (views: target ≤ 1.5); ingest peak RSS = large backlog over small (flat: ≤ 1.2).
Other targets: ingest ≤ 512 MiB, views < 2 GiB, report < 30 s, start-up < 10 s (at the full size).
EOF
echo "bench.json: $OUT"
