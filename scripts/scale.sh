#!/usr/bin/env bash
# Kafka ingest throughput with 1, 2 and 3 `alara ingest` processes in one consumer group
# (docs/SCALE.md). Generates readings with `alara generate`, produces them with kcat into a fresh
# 6-partition topic, then for each consumer count starts that many `alara ingest` processes in a
# fresh group on a fresh lake, waits until the group's committed offsets reach the end of every
# partition (alara commits offsets to Kafka only after the lake commit that holds the records),
# stops them with SIGTERM and prints a Markdown table of wall time and messages per second.
# Each run is checked: every lake must hold the same identities.
#
# Not `--until-idle`: a member exits as soon as its own assignment is caught up, and during a
# rebalance an empty assignment is (see docs/SCALE.md), so several members in one group stop early.
#
# Usage: scripts/scale.sh [WORKERS] [MONTHS]      (default 100 workers x 18 months, ~37k readings)
#
# Environment:
#   ALARA_BIN         the alara binary (default: $CARGO_TARGET_DIR/debug/alara, else target/debug/alara;
#                     build it with `cargo build`, the debug build is what the table in SCALE.md used)
#   ALARA_TEST_KAFKA  broker (default: `scripts/kafka.sh start`)
#   SCALE_CONSUMERS   consumer counts to run (default "1 2 3")
#   SCALE_PARTITIONS  partitions of the topic (default 6)
#   SCALE_LAKE_ROOT   where the lakes go (default: a temporary directory, deleted at the end);
#                     an s3://bucket/prefix puts them on object storage (AWS_* from the environment)
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS="${1:-100}"
MONTHS="${2:-18}"
CONSUMERS="${SCALE_CONSUMERS:-1 2 3}"
PARTITIONS="${SCALE_PARTITIONS:-6}"

log() { printf '[scale] %s\n' "$*" >&2; }
die() { printf '[scale] ERROR: %s\n' "$*" >&2; exit 1; }

BIN="${ALARA_BIN:-${CARGO_TARGET_DIR:-target}/debug/alara}"
[ -x "$BIN" ] || die "no alara binary at $BIN (cargo build, or set ALARA_BIN)"
command -v kcat >/dev/null || die "kcat not found (scripts/test-deps.sh installs it)"
BROKER="${ALARA_TEST_KAFKA:-$(scripts/kafka.sh start)}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ROOT="${SCALE_LAKE_ROOT:-$WORK}"
RUN="scale-$(date +%s)-$$"
TOPIC="$RUN.readings"

log "generating $WORKERS workers x $MONTHS months"
"$BIN" generate --out "$WORK/gen" --workers "$WORKERS" --months "$MONTHS" --seed 11 >/dev/null
LINES="$(wc -l <"$WORK/gen/readings.jsonl")"

# A topic with PARTITIONS partitions (auto-creation would give the broker default): Kafka's own
# AdminClient from the jars scripts/kafka.sh fetched, run as a single-file Java program.
scripts/kafka.sh fetch >/dev/null
KAFKA_LIBS="$(realpath -m "${ALARA_CACHE:-$HOME/.cache/alara}")/kafka-${ALARA_KAFKA_VERSION:-4.4.0}/libs"
scripts/kafka.sh create-topic "$TOPIC" "$PARTITIONS" "$BROKER" >&2

# Waits until GROUP has committed the end offset of every partition of TOPIC (polls every 200 ms).
cat >"$WORK/WaitCommitted.java" <<'EOF'
import java.util.*;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
public class WaitCommitted {
    public static void main(String[] a) throws Exception {
        String broker = a[0], group = a[1], topic = a[2];
        long deadline = System.currentTimeMillis() + 1000L * Long.parseLong(a[3]);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", broker))) {
            int n = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            Map<TopicPartition, OffsetSpec> latest = IntStream.range(0, n).boxed()
                .collect(Collectors.toMap(p -> new TopicPartition(topic, p), p -> OffsetSpec.latest()));
            Map<TopicPartition, Long> end = new HashMap<>();
            admin.listOffsets(latest).all().get().forEach((tp, r) -> end.put(tp, r.offset()));
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> c =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                boolean done = end.entrySet().stream().allMatch(e ->
                    e.getValue() == 0 || (c.get(e.getKey()) != null && c.get(e.getKey()).offset() >= e.getValue()));
                if (done) return;
                if (System.currentTimeMillis() > deadline) { System.err.println("timed out; committed " + c + " end " + end); System.exit(1); }
                Thread.sleep(200);
            }
        }
    }
}
EOF
# Compiled once so that its JVM start is not part of the timings.
javac -d "$WORK/classes" -cp "$KAFKA_LIBS/*" "$WORK/WaitCommitted.java"

log "producing $LINES lines to $TOPIC ($PARTITIONS partitions) with kcat"
t0=$(date +%s.%N)
kcat -P -b "$BROKER" -t "$TOPIC" -X queue.buffering.max.messages=1000000 -l "$WORK/gen/readings.jsonl"
log "produced in $(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"

cat >"$WORK/alara.toml" <<EOF
[kafka.topics]
readings = "$TOPIC"
workers = "$RUN.workers"
procedures = "$RUN.procedures"
EOF

printf '| consumers | messages | readings in the lake | wall time (s) | messages/s |\n|---:|---:|---:|---:|---:|\n'
expected=""
for n in $CONSUMERS; do
    lake="$ROOT/lake-$n"
    group="$RUN-g$n"
    pids=()
    t0=$(date +%s.%N)
    for i in $(seq 1 "$n"); do
        "$BIN" ingest --lake "$lake" --kafka "$BROKER" --group "$group" --config "$WORK/alara.toml" \
            >"$WORK/ingest-$n-$i.log" 2>&1 &
        pids+=($!)
    done
    if ! java -cp "$WORK/classes:$KAFKA_LIBS/*" WaitCommitted "$BROKER" "$group" "$TOPIC" 900 2>"$WORK/wait-$n.log"; then
        cat "$WORK/wait-$n.log" >&2; kill -TERM "${pids[@]}" 2>/dev/null || true
        die "$n consumers did not commit the whole topic within 900 s"
    fi
    secs="$(echo "$(date +%s.%N) - $t0" | bc)"
    kill -TERM "${pids[@]}"
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || { tail -n 30 "$WORK/ingest-$n-$((i + 1)).log" >&2; die "ingest $((i + 1)) of $n did not exit 0 on SIGTERM"; }
    done
    rows="$("$BIN" sql --lake "$lake" --format csv -c "SELECT count(*) AS n FROM readings" | tail -n1)"
    # Every run must end with the same identities: no consumer count loses or doubles anything.
    [ -z "$expected" ] && expected="$rows"
    [ "$rows" = "$expected" ] || die "$n consumers: $rows readings in the lake, $expected with the first run"
    printf '| %s | %s | %s | %.1f | %.0f |\n' "$n" "$LINES" "$rows" "$secs" "$(echo "$LINES / $secs" | bc -l)"
done
log "topic $TOPIC: $LINES messages; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
