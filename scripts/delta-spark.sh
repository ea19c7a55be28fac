#!/usr/bin/env bash
# The Delta Lake connector for Apache Spark (io.delta:delta-spark), fetched as jars from Maven
# Central with Maven -- the way scripts/kafka.sh fetches Kafka. PySpark itself comes from PyPI
# (scripts/test-deps.sh installs the matching `pyspark`); these jars are what
# `spark.jars.packages io.delta:delta-spark_2.13:...` would download at run time, fetched once
# ahead of time so that Spark runs with no network.
#
# Usage: scripts/delta-spark.sh <command>
#   fetch   download the jars into the cache (idempotent; fast when present)
#   dir     print the jar directory (fetching first if needed)
#   status  exit 0 if fetched, 3 otherwise
#
# Environment:
#   ALARA_CACHE                 cache root (default: $HOME/.cache/alara)
#   ALARA_DELTA_SPARK_VERSION   delta-spark version (default 4.4.0, built for Spark 4.2 / Scala 2.13;
#                               must match the pyspark version pinned in scripts/test-deps.sh)
set -euo pipefail

DELTA_VERSION="${ALARA_DELTA_SPARK_VERSION:-4.4.0}"
SCALA_VERSION="2.13"

log() { printf '[delta-spark] %s\n' "$*" >&2; }
die() { printf '[delta-spark] ERROR: %s\n' "$*" >&2; exit 1; }

CACHE="$(realpath -m -- "${ALARA_CACHE:-${HOME:?HOME is not set}/.cache/alara}")"
HOME_DIR="$CACHE/delta-spark-$DELTA_VERSION"
LIB_DIR="$HOME_DIR/jars"
MARKER="$HOME_DIR/.fetched"
MAIN_JAR="$LIB_DIR/delta-spark_${SCALA_VERSION}-${DELTA_VERSION}.jar"

fetched() { [ -f "$MARKER" ] && [ -f "$MAIN_JAR" ]; }

cmd_fetch() {
    fetched && return 0
    mkdir -p "$HOME_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 8>"$HOME_DIR/.fetch.lock"
        flock -w 300 8 || die "timed out waiting for $HOME_DIR/.fetch.lock"
    fi
    fetched && return 0 # fetched by a concurrent run
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found; needed to fetch delta-spark from Maven Central"
    log "fetching io.delta:delta-spark_$SCALA_VERSION:$DELTA_VERSION from Maven Central into $LIB_DIR"
    local build="$HOME_DIR/.build" t0=$SECONDS
    rm -rf "$build" "$LIB_DIR.tmp"
    mkdir -p "$build"
    cat >"$build/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alara.local</groupId>
  <artifactId>delta-spark-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- Spark itself is a 'provided' dependency of delta-spark: it comes from the pyspark wheel. -->
    <dependency><groupId>io.delta</groupId><artifactId>delta-spark_$SCALA_VERSION</artifactId><version>$DELTA_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    if ! (cd "$build" && mvn -B -q -f pom.xml dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$LIB_DIR.tmp" </dev/null >"$build/mvn.log" 2>&1); then
        tail -n 40 "$build/mvn.log" >&2
        die "Maven could not fetch io.delta:delta-spark_$SCALA_VERSION:$DELTA_VERSION (see $build/mvn.log)"
    fi
    [ -f "$LIB_DIR.tmp/$(basename "$MAIN_JAR")" ] || die "Maven finished but $(basename "$MAIN_JAR") is missing"
    rm -rf "$LIB_DIR"
    mv "$LIB_DIR.tmp" "$LIB_DIR"
    printf 'delta-spark_%s:%s fetched %s\n' "$SCALA_VERSION" "$DELTA_VERSION" "$(date -u +%FT%TZ)" >"$MARKER"
    log "fetched $(ls "$LIB_DIR" | wc -l) jars ($(du -sh "$LIB_DIR" | cut -f1)) in $((SECONDS - t0)) s"
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    dir) cmd_fetch; printf '%s\n' "$LIB_DIR" ;;
    status) if fetched; then printf 'fetched %s\n' "$LIB_DIR"; else printf 'not fetched (%s)\n' "$LIB_DIR"; exit 3; fi ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
