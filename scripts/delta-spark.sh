#!/usr/bin/env bash
# The Delta Lake connector for Apache Spark (io.delta:delta-spark), fetched as jars from Maven
# Central with Maven -- the way scripts/kafka.sh fetches Kafka. PySpark itself comes from PyPI
# (scripts/test-deps.sh installs the matching `pyspark`); these jars are what
# `spark.jars.packages io.delta:delta-spark_2.13:...` would download at run time, fetched once
# ahead of time so that Spark runs with no network.
#
# Usage: scripts/delta-spark.sh <command>
#   fetch     download the jars into the cache (idempotent; fast when present)
#   dir       print the jar directory (fetching first if needed)
#   fetch-s3  download org.apache.hadoop:hadoop-aws (Spark's s3a:// file system, with the AWS SDK)
#   dir-s3    print the hadoop-aws jar directory (fetching first if needed)
#   status    exit 0 if the delta-spark jars are fetched, 3 otherwise
#
# Environment:
#   ALARA_CACHE                 cache root (default: $HOME/.cache/alara)
#   ALARA_DELTA_SPARK_VERSION   delta-spark version (default 4.4.0, built for Spark 4.2 / Scala 2.13;
#                               must match the pyspark version pinned in scripts/test-deps.sh)
#   ALARA_HADOOP_AWS_VERSION    hadoop-aws version (default 3.5.0: the Hadoop client pyspark 4.2 ships)
set -euo pipefail

DELTA_VERSION="${ALARA_DELTA_SPARK_VERSION:-4.4.0}"
HADOOP_AWS_VERSION="${ALARA_HADOOP_AWS_VERSION:-3.5.0}"
SCALA_VERSION="2.13"

log() { printf '[delta-spark] %s\n' "$*" >&2; }
die() { printf '[delta-spark] ERROR: %s\n' "$*" >&2; exit 1; }

CACHE="$(realpath -m -- "${ALARA_CACHE:-${HOME:?HOME is not set}/.cache/alara}")"
LIB_DIR="$CACHE/delta-spark-$DELTA_VERSION/jars"
MAIN_JAR="$LIB_DIR/delta-spark_${SCALA_VERSION}-${DELTA_VERSION}.jar"
S3_DIR="$CACHE/hadoop-aws-$HADOOP_AWS_VERSION/jars"
S3_JAR="$S3_DIR/hadoop-aws-$HADOOP_AWS_VERSION.jar"

complete() { [ -f "$(dirname "$1")/.fetched" ] && [ -f "$2" ]; }

# maven_copy NAME LIB_DIR MAIN_JAR GROUP ARTIFACT VERSION: copies the artifact and its runtime
# dependencies into LIB_DIR with Maven, once; a marker file says the copy is complete.
maven_copy() {
    local name="$1" lib="$2" main="$3" group="$4" artifact="$5" version="$6" home
    complete "$lib" "$main" && return 0
    home="$(dirname "$lib")"
    mkdir -p "$home"
    if command -v flock >/dev/null 2>&1; then
        exec 8>"$home/.fetch.lock"
        flock -w 600 8 || die "timed out waiting for $home/.fetch.lock"
    fi
    complete "$lib" "$main" && return 0 # fetched by a concurrent run
    command -v mvn >/dev/null 2>&1 || die "mvn (Maven) not found; needed to fetch $name from Maven Central"
    log "fetching $name from Maven Central into $lib"
    local build="$home/.build" t0=$SECONDS
    rm -rf "$build" "$lib.tmp"
    mkdir -p "$build"
    cat >"$build/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alara.local</groupId>
  <artifactId>spark-runtime-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>$group</groupId><artifactId>$artifact</artifactId><version>$version</version></dependency>
  </dependencies>
</project>
EOF
    if ! (cd "$build" && mvn -B -q -f pom.xml dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$lib.tmp" </dev/null >"$build/mvn.log" 2>&1); then
        tail -n 40 "$build/mvn.log" >&2
        die "Maven could not fetch $name (see $build/mvn.log)"
    fi
    [ -f "$lib.tmp/$(basename "$main")" ] || die "Maven finished but $(basename "$main") is missing"
    rm -rf "$lib"
    mv "$lib.tmp" "$lib"
    printf '%s fetched %s\n' "$name" "$(date -u +%FT%TZ)" >"$home/.fetched"
    log "fetched $(ls "$lib" | wc -l) jars ($(du -sh "$lib" | cut -f1)) in $((SECONDS - t0)) s"
}

# Spark itself is a 'provided' dependency of delta-spark: it comes from the pyspark wheel.
cmd_fetch() {
    maven_copy "io.delta:delta-spark_$SCALA_VERSION:$DELTA_VERSION" "$LIB_DIR" "$MAIN_JAR" \
        io.delta "delta-spark_$SCALA_VERSION" "$DELTA_VERSION"
}

# hadoop-common is 'provided' too (pyspark ships the Hadoop client); the AWS SDK comes along.
cmd_fetch_s3() {
    maven_copy "org.apache.hadoop:hadoop-aws:$HADOOP_AWS_VERSION" "$S3_DIR" "$S3_JAR" \
        org.apache.hadoop hadoop-aws "$HADOOP_AWS_VERSION"
}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; }

case "${1:-}" in
    fetch) cmd_fetch ;;
    dir) cmd_fetch; printf '%s\n' "$LIB_DIR" ;;
    fetch-s3) cmd_fetch_s3 ;;
    dir-s3) cmd_fetch_s3; printf '%s\n' "$S3_DIR" ;;
    status)
        if complete "$LIB_DIR" "$MAIN_JAR"; then printf 'fetched %s\n' "$LIB_DIR"
        else printf 'not fetched (%s)\n' "$LIB_DIR"; exit 3; fi ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
esac
