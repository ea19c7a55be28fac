#!/usr/bin/env bash
# Idempotently install what alara's test suite needs (Debian 12 + Python 3).
#
#   Debian packages: kcat chromium chromium-driver prometheus-alertmanager postgresql-client libssl-dev
#                    pkg-config make zlib1g-dev
#   Python packages: pyarrow duckdb selenium psycopg, and for the interop tests (tests/interop/,
#                    docs/LAKE.md) pyspark deltalake polars moto[server] at pinned versions
#   Maven jars:      io.delta:delta-spark (Spark's Delta connector) and org.apache.hadoop:hadoop-aws
#                    (Spark's s3a://), via scripts/delta-spark.sh, into ~/.cache/alara
#
# Fast when everything is already present (no apt-get update, no pip call).
# Works with no stdin (CI). Needs root (or passwordless sudo) only when a
# Debian package is actually missing.
#
# Environment:
#   PYTHON   python interpreter to install into (default: python3)
set -euo pipefail

APT_PKGS=(kcat chromium chromium-driver prometheus-alertmanager postgresql-client libssl-dev pkg-config make zlib1g-dev)
# pip requirement -> import name(s), comma-separated. A pinned requirement (NAME==VERSION) is reinstalled when the
# installed version differs: pyspark must match the delta-spark jars (Spark 4.2 <-> Delta 4.4).
PY_PKGS=(pyarrow:pyarrow duckdb:duckdb selenium:selenium "psycopg[binary]:psycopg"
    pyspark==4.2.1:pyspark deltalake==1.6.6:deltalake polars==2.1.0:polars "moto[server]==5.2.5:moto,flask")
PYTHON="${PYTHON:-python3}"

log() { printf '[test-deps] %s\n' "$*" >&2; }
die() { printf '[test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

trap 'printf "[test-deps] FAILED at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------- Debian
pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for p in "${APT_PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install manually: ${missing[*]}"
        SUDO=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "apt: installing ${missing[*]}"
    aptlog="$(mktemp)"
    if ! "${SUDO[@]}" apt-get update -qq </dev/null >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2; rm -f "$aptlog"
        die "apt-get update failed"
    fi
    if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >"$aptlog" 2>&1; then
        tail -n 30 "$aptlog" >&2; rm -f "$aptlog"
        die "apt-get install failed for: ${missing[*]}"
    fi
    rm -f "$aptlog"
    for p in "${missing[@]}"; do
        pkg_installed "$p" || die "package $p still not installed after apt-get install"
    done
else
    log "apt: all present (${APT_PKGS[*]})"
fi

# ---------------------------------------------------------------- Python
command -v "$PYTHON" >/dev/null 2>&1 || die "python interpreter '$PYTHON' not found"

# The requirements of PY_PKGS that are not met: a module is not found, or the installed version
# differs from the pin. One interpreter, no imports (pyspark and moto are slow to import).
py_unmet() {
    "$PYTHON" - "${PY_PKGS[@]}" </dev/null <<'EOF'
import importlib.metadata, importlib.util, sys
for spec in sys.argv[1:]:
    req, mods = spec.rsplit(":", 1)
    dist, _, want = req.partition("==")
    dist = dist.split("[")[0]
    try:
        ok = all(importlib.util.find_spec(m) for m in mods.split(","))
        ok = ok and (not want or importlib.metadata.version(dist) == want)
    except Exception:
        ok = False
    if not ok:
        print(req)
EOF
}

mapfile -t py_missing < <(py_unmet)

if [ "${#py_missing[@]}" -gt 0 ]; then
    log "pip: installing ${py_missing[*]}"
    piplog="$(mktemp)"
    if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check "${py_missing[@]}" </dev/null >"$piplog" 2>&1; then
        tail -n 30 "$piplog" >&2; rm -f "$piplog"
        die "pip install failed for: ${py_missing[*]}"
    fi
    rm -f "$piplog"
    mapfile -t still < <(py_unmet)
    [ "${#still[@]}" -eq 0 ] || die "still missing after pip install: ${still[*]}"
    # pyenv keeps shims for console scripts; refresh them if present.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
else
    log "pip: all importable (${PY_PKGS[*]%%:*})"
fi

# ---------------------------------------------------------------- Maven (Spark's Delta connector)
# Java 17 and Maven are prerequisites (README); Kafka's jars come the same way (scripts/kafka.sh).
here="$(cd "$(dirname "$0")" && pwd)"
"$here/delta-spark.sh" fetch
"$here/delta-spark.sh" fetch-s3
log "maven: delta-spark and hadoop-aws jars present"

log "ok"
