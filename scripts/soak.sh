#!/usr/bin/env bash
# Faults at scale, outside the test command: a generated stream of ~1 M readings (kcat into a
# 6-partition topic of a private broker) consumed by two `alara ingest` processes in one group,
# while this script SIGKILLs one of them at random moments (>= 100 kills), restarts the broker
# (10 times) and so makes the group rebalance every few kills. At the end a last `alara ingest`
# drains the topic and the lake must hold exactly what was produced:
#   - raw copies in `readings_all` and `rejects` equal to a reference lake built from the same file
#     by file ingest (each record written once, none lost);
#   - the same identities and the same dose sums in `readings`, `monthly_dose` and
#     `rolling_12_months` as the reference.
# Prints a summary; exits non-zero on any difference.
#
# Usage: scripts/soak.sh [WORKERS] [MONTHS]      (default 2400 x 24: about 1.0 M readings)
#
# Environment:
#   ALARA_BIN          the alara binary (default: $CARGO_TARGET_DIR/debug/alara, else target/debug/alara)
#   SOAK_KILLS         SIGKILLs (default 100)
#   SOAK_RESTARTS      broker restarts, spread over the kills (default 10)
#   SOAK_PORT          port of the private broker (default 19192; the tests' broker is not touched)
#   SOAK_KEEP          keep the work directory (lakes, logs) when set
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS="${1:-2400}"
MONTHS="${2:-24}"
KILLS="${SOAK_KILLS:-100}"
RESTARTS="${SOAK_RESTARTS:-10}"
PORT="${SOAK_PORT:-19192}"

log() { printf '[soak %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[soak] FAILED: %s\n' "$*" >&2; exit 1; }

BIN="${ALARA_BIN:-${CARGO_TARGET_DIR:-target}/debug/alara}"
[ -x "$BIN" ] || die "no alara binary at $BIN (cargo build, or set ALARA_BIN)"
command -v kcat >/dev/null || die "kcat not found (scripts/test-deps.sh installs it)"

WORK="$(mktemp -d)"
export ALARA_KAFKA_PORT="$PORT" ALARA_KAFKA_DIR="$WORK/kafka"
cleanup() {
    [ "${#pids[@]}" -gt 0 ] && kill -KILL "${pids[@]}" 2>/dev/null || true
    scripts/kafka.sh stop >/dev/null 2>&1 || true
    if [ -n "${SOAK_KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
pids=()
trap cleanup EXIT
BROKER="$(scripts/kafka.sh start)"
RUN="soak-$(date +%s)-$$"
TOPIC="$RUN.readings"

log "generating $WORKERS workers x $MONTHS months"
"$BIN" generate --out "$WORK/gen" --workers "$WORKERS" --months "$MONTHS" --seed 7 >/dev/null
LINES="$(wc -l <"$WORK/gen/readings.jsonl")"

# The reference: the same file through file ingest, no Kafka, no fault.
log "reference lake from the file ($LINES lines)"
"$BIN" ingest --lake "$WORK/reference" --readings "$WORK/gen/readings.jsonl" >"$WORK/reference.log" 2>&1 \
    || { tail -n 20 "$WORK/reference.log" >&2; die "reference ingest"; }

scripts/kafka.sh create-topic "$TOPIC" 6 "$BROKER" >&2
log "producing $LINES lines to $TOPIC with kcat"
kcat -P -b "$BROKER" -t "$TOPIC" -X queue.buffering.max.messages=1000000 -l "$WORK/gen/readings.jsonl"

# Fast failover, so a killed member's partitions move within seconds.
cat >"$WORK/alara.toml" <<EOF
[kafka]
latency_ms = 500
[kafka.topics]
readings = "$TOPIC"
workers = "$RUN.workers"
procedures = "$RUN.procedures"
[kafka.properties]
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 500
EOF
LAKE="$WORK/lake"
GROUP="$RUN-g"
start() { # start member $1 (0 or 1)
    "$BIN" ingest --lake "$LAKE" --kafka "$BROKER" --group "$GROUP" --config "$WORK/alara.toml" \
        >>"$WORK/ingest-$1.log" 2>&1 &
    pids[$1]=$!
}
in_lake() { "$BIN" sql --lake "$LAKE" --format csv -c "SELECT count(*) AS n FROM readings_all" 2>/dev/null | tail -n1; }

start 0
start 1
kills=0
restarts=0
every=$(( KILLS / (RESTARTS > 0 ? RESTARTS : 1) ))
t0=$(date +%s)
while [ "$kills" -lt "$KILLS" ]; do
    # A random moment: 0.5 to 4 s after the last fault.
    sleep "$(( RANDOM % 4 )).$(( RANDOM % 10 ))"
    m=$(( RANDOM % 2 ))
    kill -KILL "${pids[$m]}" 2>/dev/null || true
    wait "${pids[$m]}" 2>/dev/null || true
    kills=$((kills + 1))
    if [ "$restarts" -lt "$RESTARTS" ] && [ $(( kills % every )) -eq 0 ]; then
        scripts/kafka.sh restart >/dev/null 2>>"$WORK/broker.log" || die "broker restart $((restarts + 1))"
        restarts=$((restarts + 1))
    fi
    start "$m"
    # A member that died on its own (not by this script) is a failure: its log says why.
    for i in 0 1; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            tail -n 30 "$WORK/ingest-$i.log" >&2
            die "ingest $i exited by itself"
        fi
    done
    if [ $(( kills % 10 )) -eq 0 ]; then
        log "$kills kills, $restarts broker restarts, $(in_lake || echo '?') of $LINES records in the lake"
    fi
done
log "faults done in $(( $(date +%s) - t0 )) s; stopping the members and draining"
kill -TERM "${pids[@]}" 2>/dev/null || true
for i in 0 1; do wait "${pids[$i]}" 2>/dev/null || true; done
pids=()
"$BIN" ingest --lake "$LAKE" --kafka "$BROKER" --group "$GROUP" --config "$WORK/alara.toml" --until-idle \
    >>"$WORK/drain.log" 2>&1 || { tail -n 30 "$WORK/drain.log" >&2; die "the draining ingest failed"; }

# Compare with the reference, query by query.
status=0
compare() { # name, SQL
    local a b
    a="$("$BIN" sql --lake "$LAKE" --format csv -c "$2")" || die "query $1 on the soaked lake"
    b="$("$BIN" sql --lake "$WORK/reference" --format csv -c "$2")" || die "query $1 on the reference"
    if [ "$a" = "$b" ]; then
        printf '| %-40s | same | %s |\n' "$1" "$(echo "$a" | tail -n +2 | head -n1 | cut -c1-60)"
    else
        printf '| %-40s | DIFFERENT | soaked %s, reference %s |\n' "$1" \
            "$(echo "$a" | md5sum | cut -c1-8)" "$(echo "$b" | md5sum | cut -c1-8)"
        status=1
    fi
}
printf '\n| check | result | value |\n|---|---|---|\n'
compare "raw copies (readings_all)" "SELECT count(*) AS n FROM readings_all"
compare "rejects" "SELECT count(*) AS n FROM rejects"
compare "identities (readings)" "SELECT count(*) AS n, round(sum(dose_msv), 6) AS dose FROM readings"
compare "identities per source" "SELECT source, count(*) AS n, round(sum(dose_msv), 6) AS dose FROM readings GROUP BY 1 ORDER BY 1"
compare "monthly_dose per worker" "SELECT worker_id, count(*) AS months, round(sum(dose_msv), 6) AS dose FROM monthly_dose GROUP BY 1 ORDER BY 1"
compare "rolling_12_months per worker" "SELECT worker_id, count(*) AS windows, round(sum(dose_msv), 6) AS dose FROM rolling_12_months GROUP BY 1 ORDER BY 1"
printf '\n%s lines produced; %s SIGKILLs, %s broker restarts; %s s; machine: %s cores\n' \
    "$LINES" "$kills" "$restarts" "$(( $(date +%s) - t0 ))" "$(nproc)"
[ "$status" -eq 0 ] || die "the soaked lake differs from the reference"
echo "soak: nothing lost, nothing counted twice"
