#!/usr/bin/env bash
# Idempotently install what alara's test suite needs (Debian 12 + Python 3).
#
#   Debian packages: kcat chromium libssl-dev pkg-config make zlib1g-dev
#   Python packages: pyarrow duckdb
#
# Fast when everything is already present (no apt-get update, no pip call).
# Works with no stdin (CI). Needs root (or passwordless sudo) only when a
# Debian package is actually missing.
#
# Environment:
#   PYTHON   python interpreter to install into (default: python3)
set -euo pipefail

APT_PKGS=(kcat chromium libssl-dev pkg-config make zlib1g-dev)
# pip distribution name -> import name
PY_PKGS=(pyarrow:pyarrow duckdb:duckdb)
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

py_missing=()
for spec in "${PY_PKGS[@]}"; do
    dist="${spec%%:*}"; mod="${spec##*:}"
    "$PYTHON" -c "import $mod" >/dev/null 2>&1 </dev/null || py_missing+=("$dist")
done

if [ "${#py_missing[@]}" -gt 0 ]; then
    log "pip: installing ${py_missing[*]}"
    piplog="$(mktemp)"
    if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check "${py_missing[@]}" </dev/null >"$piplog" 2>&1; then
        tail -n 30 "$piplog" >&2; rm -f "$piplog"
        die "pip install failed for: ${py_missing[*]}"
    fi
    rm -f "$piplog"
    for spec in "${PY_PKGS[@]}"; do
        mod="${spec##*:}"
        "$PYTHON" -c "import $mod" >/dev/null 2>&1 </dev/null || die "python module '$mod' still not importable after pip install"
    done
    # pyenv keeps shims for console scripts; refresh them if present.
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
else
    log "pip: all importable (${PY_PKGS[*]%%:*})"
fi

log "ok"
