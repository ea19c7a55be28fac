#!/usr/bin/env bash
# A local S3-compatible server for alara's tests: the moto server from PyPI (`moto[server]`,
# installed by scripts/test-deps.sh), listening on loopback only. Objects live in the server's
# memory: `stop` forgets every bucket. Tests use their own fresh bucket names.
#
# Usage: scripts/s3.sh <command>
#   start      start the server in the background (no-op if it already answers); prints the endpoint
#   stop       SIGTERM the server, wait up to 10 s, then SIGKILL
#   status     print state; exit 0 if running and answering, 3 otherwise
#   endpoint   print the endpoint URL (http://127.0.0.1:PORT)
#   env        print `export` lines for the AWS_* variables that alara, delta-rs, polars and
#              scripts use:  eval "$(scripts/s3.sh env)"
#   mb BUCKET  create a bucket (idempotent)
#   logs       print the tail of the server log
#
# Environment:
#   ALARA_CACHE     cache root (default: $HOME/.cache/alara)
#   ALARA_S3_PORT   port (default 19500)
#   ALARA_S3_DIR    run dir for the pid file and log (default: $ALARA_CACHE/s3-run)
#   PYTHON          python with moto[server] (default: python3)
set -euo pipefail

HOST="127.0.0.1"
PORT="${ALARA_S3_PORT:-19500}"
[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] \
    || { printf '[s3] ERROR: ALARA_S3_PORT must be a port number, got %s\n' "$PORT" >&2; exit 2; }
ENDPOINT="http://$HOST:$PORT"
PYTHON="${PYTHON:-python3}"
CACHE="$(realpath -m -- "${ALARA_CACHE:-${HOME:?HOME is not set}/.cache/alara}")"
RUN_DIR="$(realpath -m -- "${ALARA_S3_DIR:-$CACHE/s3-run}")"
PID_FILE="$RUN_DIR/moto-$PORT.pid"
LOG_FILE="$RUN_DIR/moto-$PORT.log"

log() { printf '[s3] %s\n' "$*" >&2; }
die() { printf '[s3] ERROR: %s\n' "$*" >&2; exit 1; }

# Is PID our moto server on our port? (reads /proc, no forks)
is_ours() {
    local -a args=()
    mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
    local a joined=" "
    for a in "${args[@]}"; do joined+="$a "; done
    [[ "$joined" == *" moto.server "* && "$joined" == *" -p $PORT "* ]]
}

server_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(tr -dc '0-9' <"$PID_FILE" || true)"
    [ -n "$pid" ] && is_ours "$pid" && { printf '%s\n' "$pid"; return 0; }
    return 1
}

answering() { # an S3 ListBuckets answer from the server
    curl -fsS -m 3 "$ENDPOINT/" 2>/dev/null | grep -q "ListAllMyBucketsResult"
}

cmd_start() {
    mkdir -p "$RUN_DIR"
    if command -v flock >/dev/null 2>&1; then exec 9>"$RUN_DIR/.lock"; flock -w 120 9 || die "timed out waiting for $RUN_DIR/.lock"; fi
    local pid
    if pid="$(server_pid)" && answering; then
        log "already running (pid $pid)"
        printf '%s\n' "$ENDPOINT"
        return 0
    fi
    if (exec 3<>"/dev/tcp/$HOST/$PORT") >/dev/null 2>&1; then
        die "port $PORT is in use by another process (not our moto server); set ALARA_S3_PORT"
    fi
    "$PYTHON" -c "import moto.server, flask" >/dev/null 2>&1 </dev/null \
        || die "moto[server] is not installed for $PYTHON (scripts/test-deps.sh installs it)"
    log "starting moto S3 server on $ENDPOINT"
    printf '\n==== %s start ====\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
        "$PYTHON" -m moto.server -H "$HOST" -p "$PORT" </dev/null >>"$LOG_FILE" 2>&1 9>&- &
    disown $! 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    until answering; do
        pid="$(tr -dc '0-9' <"$PID_FILE" 2>/dev/null || true)"
        if [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; then tail -n 30 "$LOG_FILE" >&2; die "moto server exited during startup"; fi
        [ "$SECONDS" -lt "$deadline" ] || { tail -n 30 "$LOG_FILE" >&2; die "moto server did not answer on $ENDPOINT within 60 s"; }
        sleep 0.3
    done
    log "ready (pid $(tr -dc '0-9' <"$PID_FILE"))"
    printf '%s\n' "$ENDPOINT"
}

cmd_stop() {
    local pid
    if ! pid="$(server_pid)"; then rm -f "$PID_FILE"; log "not running"; return 0; fi
    log "stopping moto server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while is_ours "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.3; break; fi
        sleep 0.2
    done
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    local pid
    if pid="$(server_pid)" && answering; then
        printf 'running pid=%s endpoint=%s\n' "$pid" "$ENDPOINT"
        return 0
    fi
    printf 'stopped endpoint=%s\n' "$ENDPOINT"
    return 3
}

cmd_env() {
    # moto accepts any key pair; these are placeholders, not secrets.
    cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=alara-test
export AWS_SECRET_ACCESS_KEY=alara-test
export AWS_REGION=us-east-1
export AWS_ALLOW_HTTP=true
EOF
}

cmd_mb() {
    local bucket="${1:?usage: scripts/s3.sh mb BUCKET}"
    answering || die "the S3 server does not answer on $ENDPOINT (scripts/s3.sh start)"
    local code
    code="$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X PUT "$ENDPOINT/$bucket")"
    case "$code" in
        200 | 409) printf 's3://%s\n' "$bucket" ;;
        *) die "creating bucket $bucket failed (HTTP $code)" ;;
    esac
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    endpoint) printf '%s\n' "$ENDPOINT" ;;
    env) cmd_env ;;
    mb) shift; cmd_mb "$@" ;;
    logs) tail -n "${2:-100}" "$LOG_FILE" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
