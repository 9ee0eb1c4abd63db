#!/usr/bin/env bash
# Install Almanac into this checkout (idempotent):
#   1. .venv with Python >= 3.11, then `pip install -e '.[dev]'` (skipped while pyproject.toml
#      is unchanged since the last successful install);
#   2. front-end packages: `npm ci` from the committed package-lock.json (skipped while the lock
#      is unchanged), then scripts/vendor-assets.sh copies the browser builds into
#      app/web/static/vendor/.
#
# Options: -q/--quiet (only errors and a one-line summary), -f/--force (redo everything).
# Env: PYTHON (interpreter for the venv; default python3, else python3.11).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quiet=0
force=0
for arg in "$@"; do
    case "$arg" in
        -q | --quiet) quiet=1 ;;
        -f | --force) force=1 ;;
        -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

say() { [ "$quiet" = 1 ] || echo "==> $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }
done_steps=()

# Run a command; in quiet mode keep its output and show it only when it fails.
run() {
    if [ "$quiet" = 1 ]; then
        local log
        log="$(mktemp)"
        if ! "$@" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            die "failed: $*"
        fi
        rm -f "$log"
    else
        "$@"
    fi
}

hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

py_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

# --- 1. Python ---------------------------------------------------------------------------------
if [ -x .venv/bin/python ] && ! py_ok .venv/bin/python; then
    say "existing .venv is older than Python 3.11; recreating it"
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for cand in python3 python3.11 python3.12 python3.13; do
            if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then python="$cand"; break; fi
        done
    fi
    if [ -z "$python" ] || ! py_ok "$python"; then
        die "need Python >= 3.11 (set PYTHON=/path/to/python3.11)"
    fi
    say "creating .venv with $("$python" --version 2>&1)"
    run "$python" -m venv .venv
    done_steps+=("venv")
fi

py_stamp=".venv/.almanac-install-stamp"
py_hash="$(hash_of pyproject.toml)"
if [ "$force" = 1 ] || [ "$(cat "$py_stamp" 2>/dev/null)" != "$py_hash" ] \
    || [ ! -x .venv/bin/almanac ]; then
    say "pip install -e '.[dev]'"
    run .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
    run .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
    echo "$py_hash" >"$py_stamp"
    done_steps+=("python packages")
else
    say "python packages up to date (.venv)"
fi

# --- 2. front-end packages ---------------------------------------------------------------------
command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js + npm (Debian: apt-get install nodejs npm)"
[ -f package-lock.json ] || die "package-lock.json missing"
npm_stamp="node_modules/.almanac-install-stamp"
npm_hash="$(hash_of package.json package-lock.json)"
if [ "$force" = 1 ] || [ "$(cat "$npm_stamp" 2>/dev/null)" != "$npm_hash" ]; then
    say "npm ci"
    run npm ci --no-audit --no-fund --loglevel=error
    echo "$npm_hash" >"$npm_stamp"
    done_steps+=("npm packages")
else
    say "npm packages up to date (node_modules)"
fi
if [ "$quiet" = 1 ]; then
    run bash scripts/vendor-assets.sh
else
    echo "==> $(bash scripts/vendor-assets.sh)"
fi

if [ "${#done_steps[@]}" -gt 0 ]; then
    summary="installed: ${done_steps[*]}; assets vendored"
else
    summary="everything up to date; assets vendored"
fi
if [ "$quiet" = 1 ]; then
    echo "install.sh: $summary"
else
    echo "==> $summary (.venv/bin/almanac, app/web/static/vendor/)"
fi
