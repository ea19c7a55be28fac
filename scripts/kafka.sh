#!/usr/bin/env bash
# Single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) for
# alara's tests, fetched as jars from Maven Central -- no tarball download.
#
# Usage: scripts/kafka.sh <command>
#   fetch      download the broker jars into the cache (idempotent)
#   start      fetch if needed, format storage if needed, start the broker in
#              the background and wait until it answers; prints the bootstrap
#              address. No-op if it is already running and answering.
#   stop       SIGTERM the broker, wait up to 30 s, then SIGKILL
#   restart    stop + start, keeping data
#   status     print state; exit 0 if running and answering, 3 otherwise
#   reset      stop + delete the data/run directory
#   bootstrap  print the bootstrap address (127.0.0.1:PORT)
#   logs       print the tail of the broker log (N lines, default 100)
#   create-topic TOPIC PARTITIONS [BOOTSTRAP]
#              create a topic with that many partitions (auto-creation would give
#              the broker's default) with Kafka's own AdminClient; fails if it exists
#
# Environment:
#   ALARA_CACHE                cache root (default: $HOME/.cache/alara)
#   ALARA_KAFKA_VERSION        Kafka version (default 4.4.0; any 4.x on Maven Central)
#   ALARA_KAFKA_PORT           PLAINTEXT port (default 19092); controller uses PORT+1
#   ALARA_KAFKA_DIR            run/data dir (default: $ALARA_CACHE/kafka-run)
#   ALARA_KAFKA_START_TIMEOUT  seconds to wait for the broker (default 60)
#   ALARA_KAFKA_HEAP_OPTS      JVM heap flags (default: -Xms128m -Xmx512m)
#   ALARA_KAFKA_JVM_OPTS       extra JVM flags
#   ALARA_KAFKA_EXTRA_PROPS    extra server.properties lines (newline separated,
#                              appended last so they override the defaults)
#   JAVA_HOME                  JDK to use (Java 17+); otherwise `java` on PATH
set -euo pipefail

KAFKA_VERSION="${ALARA_KAFKA_VERSION:-4.4.0}"
SCALA_VERSION="2.13"
SLF4J_VERSION="2.0.17"
LOG4J_VERSION="2.25.5"
HOST="127.0.0.1"

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] ERROR: %s\n' "$*" >&2; exit 1; }

abspath() { # absolute path of a (possibly relative, possibly missing) dir
    realpath -m -- "$1"
}

CACHE="$(abspath "${ALARA_CACHE:-${HOME:?HOME is not set}/.cache/alara}")"
KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
LIB_DIR="$KAFKA_HOME/libs"
FETCH_MARKER="$KAFKA_HOME/.fetched"

PORT="${ALARA_KAFKA_PORT:-19092}"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65534 ] \
    || die "ALARA_KAFKA_PORT must be a port number (1..65534), got '$PORT'"
CONTROLLER_PORT=$((PORT + 1))
BOOTSTRAP="$HOST:$PORT"

RUN_DIR="$(abspath "${ALARA_KAFKA_DIR:-$CACHE/kafka-run}")"
DATA_DIR="$RUN_DIR/data"
LOG_DIR="$RUN_DIR/logs"
CONFIG="$RUN_DIR/server.properties"
LOG4J_CONFIG="$RUN_DIR/log4j2.properties"
PID_FILE="$RUN_DIR/kafka.pid"
OUT_FILE="$LOG_DIR/kafka.out"
SERVER_LOG="$LOG_DIR/server.log"
RUN_MARKER="$RUN_DIR/.alara-kafka-run"
START_TIMEOUT="${ALARA_KAFKA_START_TIMEOUT:-60}"
HEAP_OPTS="${ALARA_KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"

# ------------------------------------------------------------------ helpers

java_bin() {
    local j
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then j="$JAVA_HOME/bin/java"
    else j="$(command -v java 2>/dev/null)" || die "java not found (need Java 17+; set JAVA_HOME or install openjdk-17-jre-headless)"
    fi
    local v
    v="$("$j" -version 2>&1 </dev/null | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1)"
    if [ -n "$v" ] && [ "$v" -lt 17 ] 2>/dev/null; then
        die "Kafka $KAFKA_VERSION needs Java 17+, but $j is Java $v"
    fi
    printf '%s\n' "$j"
}

# Take an exclusive lock for the rest of the script: lock FD FILE (FD 8 or 9).
# The broker child closes fds 8 and 9, so no lock outlives this script.
lock() {
    command -v flock >/dev/null 2>&1 || return 0
    eval "exec $1>\"\$2\""
    flock -w 300 "$1" || die "timed out waiting for lock $2"
}

# pid of our broker if it is running, else nothing (exit 1)
broker_pid() {
    local pid=""
    if [ -f "$PID_FILE" ]; then
        pid="$(tr -dc '0-9' <"$PID_FILE" || true)"
        if [ -n "$pid" ] && is_our_broker "$pid"; then printf '%s\n' "$pid"; return 0; fi
    fi
    # Pid file missing or stale: look for a broker started with our config.
    local d p
    for d in /proc/[0-9]*; do
        p="${d#/proc/}"
        is_our_broker "$p" && { printf '%s\n' "$p" 2>/dev/null >"$PID_FILE" || true; printf '%s\n' "$p"; return 0; }
    done
    return 1
}

is_our_broker() { # no forks: this runs for every process in /proc
    local -a args=()
    mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
    local n=${#args[@]}
    [ "$n" -ge 2 ] && [ "${args[n-2]}" = "kafka.Kafka" ] && [ "${args[n-1]}" = "$CONFIG" ]
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") >/dev/null 2>&1; }

# Does the broker answer Kafka requests (metadata lists broker 1)?
answering() {
    port_open "$PORT" || return 1
    if command -v kcat >/dev/null 2>&1; then
        # No -t: a metadata request for a named topic would auto-create it.
        kcat -b "$BOOTSTRAP" -L -m 3 </dev/null 2>/dev/null | grep -q "broker 1 at"
    else
        # Without kcat: a raw ApiVersions v0 request gets a response.
        api_versions_probe
    fi
}

api_versions_probe() {
    local n
    n="$( (exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
           printf '\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x01\x00\x05alara' >&3
           timeout 3 head -c 4 <&3 | wc -c) 2>/dev/null || true)"
    [ "${n:-0}" -eq 4 ]
}

show_log_tail() {
    local f
    for f in "$SERVER_LOG" "$OUT_FILE"; do
        if [ -s "$f" ]; then
            printf '[kafka] ---- last lines of %s ----\n' "$f" >&2
            tail -n "${1:-60}" "$f" >&2
        fi
    done
}

# ------------------------------------------------------------------ commands

cmd_fetch() {
    if [ -f "$FETCH_MARKER" ] && compgen -G "$LIB_DIR/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" >/dev/null; then
        return 0
    fi
    mkdir -p "$KAFKA_HOME"
    lock 8 "$KAFKA_HOME/.fetch.lock"
    [ -f "$FETCH_MARKER" ] && return 0   # fetched by a concurrent run
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found; needed to fetch Kafka jars from Maven Central"
    java_bin >/dev/null

    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME"
    local build="$KAFKA_HOME/.build" t0=$SECONDS
    rm -rf "$build" "$LIB_DIR.tmp"
    mkdir -p "$build"
    cat >"$build/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alara.local</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
      <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-api</artifactId><version>$LOG4J_VERSION</version></dependency>
      <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <!-- kafka.Kafka and kafka.tools.StorageTool; pulls kafka-server, kafka-raft, kafka-metadata, kafka-storage, ... -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- logging: slf4j 2 -> log4j2 (writes server.log) -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    if ! (cd "$build" && mvn -B -q -f pom.xml dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$LIB_DIR.tmp" </dev/null >"$build/mvn.log" 2>&1); then
        tail -n 40 "$build/mvn.log" >&2
        die "Maven could not fetch org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION (see $build/mvn.log)"
    fi
    [ -f "$LIB_DIR.tmp/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar" ] \
        || die "Maven finished but kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar is missing in $LIB_DIR.tmp"
    rm -rf "$LIB_DIR"
    mv "$LIB_DIR.tmp" "$LIB_DIR"
    printf 'kafka_%s:%s fetched %s\n' "$SCALA_VERSION" "$KAFKA_VERSION" "$(date -u +%FT%TZ)" >"$FETCH_MARKER"
    log "fetched $(ls "$LIB_DIR" | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1)) in $((SECONDS - t0)) s"
}

write_config() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    : >"$RUN_MARKER"
    cat >"$CONFIG.tmp" <<EOF
# Generated by scripts/kafka.sh -- rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
EOF
    if [ -n "${ALARA_KAFKA_EXTRA_PROPS:-}" ]; then
        printf '# ALARA_KAFKA_EXTRA_PROPS\n%s\n' "$ALARA_KAFKA_EXTRA_PROPS" >>"$CONFIG.tmp"
    fi
    mv "$CONFIG.tmp" "$CONFIG"

    cat >"$LOG4J_CONFIG" <<EOF
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $SERVER_LOG
appender.file.filePattern = $SERVER_LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka_request.name = kafka.request.logger
logger.kafka_request.level = WARN
logger.state_change.name = state.change.logger
logger.state_change.level = WARN
EOF
}

format_storage() {
    local java="$1"
    [ -f "$DATA_DIR/meta.properties" ] && return 0
    log "formatting KRaft storage in $DATA_DIR"
    local cp="$LIB_DIR/*" cluster_id
    local jopts=(-Xmx256m "-Dlog4j2.configurationFile=$LOG4J_CONFIG")
    cluster_id="$("$java" "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid </dev/null 2>>"$OUT_FILE" | tail -n1)"
    [[ "$cluster_id" =~ ^[A-Za-z0-9_-]{22}$ ]] || { show_log_tail 30; die "could not generate a cluster id (got '$cluster_id')"; }
    # Static quorum (controller.quorum.voters): format takes neither
    # --standalone nor --initial-controllers.
    if ! "$java" "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format \
            -t "$cluster_id" -c "$CONFIG" </dev/null >>"$OUT_FILE" 2>&1; then
        show_log_tail 30
        die "formatting storage failed"
    fi
    [ -f "$DATA_DIR/meta.properties" ] || die "format reported success but $DATA_DIR/meta.properties is missing"
}

wait_ready() { # wait_ready PID [kill-on-timeout]
    local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! is_our_broker "$pid"; then
            show_log_tail 60
            die "broker process $pid exited during startup"
        fi
        answering && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            show_log_tail 60
            if [ -n "${2:-}" ]; then
                log "killing unresponsive broker (pid $pid)"
                kill -KILL "$pid" 2>/dev/null || true
                rm -f "$PID_FILE"
            fi
            die "broker (pid $pid) did not answer on $BOOTSTRAP within ${START_TIMEOUT}s (logs: $LOG_DIR)"
        fi
        sleep 0.5
    done
}

cmd_start() {
    mkdir -p "$RUN_DIR"
    lock 9 "$RUN_DIR/.lock"
    local pid t0=$SECONDS
    if pid="$(broker_pid)"; then
        wait_ready "$pid"
        log "already running (pid $pid)"
        printf '%s\n' "$BOOTSTRAP"
        return 0
    fi
    rm -f "$PID_FILE"
    if port_open "$PORT"; then
        die "port $PORT is already in use by another process (not our broker); set ALARA_KAFKA_PORT or stop it"
    fi
    if port_open "$CONTROLLER_PORT"; then
        die "controller port $CONTROLLER_PORT is already in use by another process; set ALARA_KAFKA_PORT"
    fi

    cmd_fetch
    local java; java="$(java_bin)"
    write_config
    format_storage "$java"

    log "starting Kafka $KAFKA_VERSION on $BOOTSTRAP (data: $DATA_DIR)"
    local -a heap extra
    read -r -a heap <<<"$HEAP_OPTS"
    read -r -a extra <<<"${ALARA_KAFKA_JVM_OPTS:-}"
    local -a jvm=(
        "$java" -server "${heap[@]}"
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true
        -Dlog4j2.shutdownHookEnabled=false
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
        "-Dkafka.logs.dir=$LOG_DIR"
        "${extra[@]}"
        -cp "$LIB_DIR/*"
        kafka.Kafka "$CONFIG"
    )
    printf '\n==== %s start %s ====\n' "$(date -u +%FT%TZ)" "$KAFKA_VERSION" >>"$OUT_FILE"
    # New session (setsid) so it survives the caller's terminal/process group;
    # the inner shell records its own pid and then execs java (same pid).
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" "${jvm[@]}" \
        </dev/null >>"$OUT_FILE" 2>&1 8>&- 9>&- &
    disown $! 2>/dev/null || true
    for _ in $(seq 1 50); do
        [ -s "$PID_FILE" ] && break
        sleep 0.1
    done
    pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] || { show_log_tail 30; die "broker did not start (no pid file)"; }
    # give exec a moment to replace bash with java
    for _ in $(seq 1 50); do is_our_broker "$pid" && break; sleep 0.1; done
    wait_ready "$pid" kill-on-timeout
    log "ready (pid $pid) in $((SECONDS - t0)) s"
    printf '%s\n' "$BOOTSTRAP"
}

cmd_stop() {
    [ -d "$RUN_DIR" ] && lock 9 "$RUN_DIR/.lock"
    local pid
    if ! pid="$(broker_pid)"; then
        rm -f "$PID_FILE" 2>/dev/null || true
        log "not running"
        return 0
    fi
    log "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while is_our_broker "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "still running after 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    # a killed process may linger as a zombie briefly; wait for /proc to clear
    for _ in $(seq 1 25); do is_our_broker "$pid" || break; sleep 0.2; done
    is_our_broker "$pid" && die "could not stop broker pid $pid"
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(broker_pid)"; then
        if answering; then
            printf 'running pid=%s bootstrap=%s version=%s dir=%s\n' "$pid" "$BOOTSTRAP" "$KAFKA_VERSION" "$RUN_DIR"
            return 0
        fi
        printf 'starting-or-unresponsive pid=%s bootstrap=%s dir=%s\n' "$pid" "$BOOTSTRAP" "$RUN_DIR"
        return 3
    fi
    printf 'stopped bootstrap=%s dir=%s\n' "$BOOTSTRAP" "$RUN_DIR"
    return 3
}

cmd_reset() {
    cmd_stop
    case "$RUN_DIR" in
        /|"$HOME"|"$CACHE"|"") die "refusing to delete '$RUN_DIR'" ;;
    esac
    if [ ! -e "$RUN_DIR" ]; then
        log "nothing to delete ($RUN_DIR does not exist)"
    elif [ -e "$RUN_MARKER" ] || [ -z "$(find "$RUN_DIR" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit)" ]; then
        rm -rf -- "$RUN_DIR"
        log "deleted $RUN_DIR"
    else
        die "$RUN_DIR does not look like a kafka.sh run dir (no $(basename "$RUN_MARKER")); not deleting"
    fi
}

# Kafka's AdminClient from the fetched jars, run as a single-file Java program.
cmd_create_topic() {
    [ $# -ge 2 ] || die "usage: kafka.sh create-topic TOPIC PARTITIONS [BOOTSTRAP]"
    cmd_fetch
    local java src; java="$(java_bin)"; src="$(mktemp -d)/CreateTopic.java"
    cat >"$src" <<'JAVA'
import java.util.*;
import org.apache.kafka.clients.admin.*;
public class CreateTopic {
    public static void main(String[] a) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", a[0]))) {
            admin.createTopics(List.of(new NewTopic(a[1], Integer.parseInt(a[2]), (short) 1))).all().get();
        }
    }
}
JAVA
    local status=0
    "$java" -cp "$LIB_DIR/*" "$src" "${3:-$BOOTSTRAP}" "$1" "$2" || status=$?
    rm -rf -- "$(dirname "$src")"
    [ "$status" = 0 ] || die "could not create topic $1"
    log "topic $1: $2 partitions"
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
}

main() {
    local cmd="${1:-}"
    [ $# -gt 0 ] && shift
    case "$cmd" in
        fetch)     cmd_fetch; log "jars in $LIB_DIR" ;;
        start)     cmd_start ;;
        stop)      cmd_stop ;;
        restart)   cmd_stop; exec 9>&-; cmd_start ;;
        status)    cmd_status ;;
        reset)     cmd_reset ;;
        bootstrap) printf '%s\n' "$BOOTSTRAP" ;;
        logs)      tail -n "${1:-100}" "$SERVER_LOG" ;;
        create-topic) cmd_create_topic "$@" ;;
        -h|--help|help) usage ;;
        "") usage; exit 2 ;;
        *) usage; die "unknown command '$cmd'" ;;
    esac
}

main "$@"
