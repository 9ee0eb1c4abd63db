#!/usr/bin/env bash
# The project's test command: lint and format check (ruff), type check (mypy), then the test
# suite (pytest).
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k schedule -x  # arguments go to pytest
#
# Runs scripts/install.sh quietly first when .venv is missing. All three steps run; the script
# exits non-zero when any of them fails. pytest finding no tests (exit code 5) is a failure.
#
# Env:
#   ALMANAC_REQUIRE_SERVICES   comma list (docker,postgres,chromium): passed through; the test
#                              suite turns a missing required service into a failure.
#   ALMANAC_TEST_DATABASE_URL_PG  PostgreSQL URL for the postgres-marked tests; when unset it
#                              defaults to postgresql+psycopg://postgres@127.0.0.1:5432/almanac_test
#                              and that database is created when the server answers.
#   ALMANAC_SKIP_LINT=1        skip ruff and mypy (quick local iterations).
#   ALMANAC_TEST_WORKERS       pytest-xdist workers (default 3: most tests wait on real
#                              processes, so three share two cores well); 0 runs in-process.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/pytest ]; then
    echo "==> .venv missing: running scripts/install.sh"
    bash scripts/install.sh --quiet || { echo "test.sh: install failed" >&2; exit 1; }
fi

export ALMANAC_REQUIRE_SERVICES="${ALMANAC_REQUIRE_SERVICES:-}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Debian's chromium, for the browser tests (no browser download).
if [ -z "${ALMANAC_CHROMIUM_PATH:-}" ]; then
    for c in /usr/bin/chromium /usr/bin/chromium-browser; do
        if [ -x "$c" ]; then export ALMANAC_CHROMIUM_PATH="$c"; break; fi
    done
fi

# PostgreSQL test database (only when the caller did not choose one).
if [ -z "${ALMANAC_TEST_DATABASE_URL_PG:-}" ]; then
    export ALMANAC_TEST_DATABASE_URL_PG="postgresql+psycopg://postgres@127.0.0.1:5432/almanac_test"
    if command -v psql >/dev/null 2>&1 \
        && psql -h 127.0.0.1 -U postgres -w -tAc 'select 1' postgres >/dev/null 2>&1; then
        if [ "$(psql -h 127.0.0.1 -U postgres -w -tAc \
            "select 1 from pg_database where datname = 'almanac_test'" postgres)" != 1 ]; then
            echo "==> creating PostgreSQL database almanac_test"
            createdb -h 127.0.0.1 -U postgres -w almanac_test \
                || echo "test.sh: warning: could not create database almanac_test" >&2
        fi
    else
        echo "==> PostgreSQL not answering on 127.0.0.1:5432 (postgres tests will skip" \
            "unless required)"
    fi
fi

failed=()

if [ "${ALMANAC_SKIP_LINT:-0}" != 1 ]; then
    lint_paths=()
    for p in app tests bench migrations; do [ -e "$p" ] && lint_paths+=("$p"); done
    echo "==> ruff check ${lint_paths[*]}"
    .venv/bin/ruff check "${lint_paths[@]}" || failed+=("ruff")
    echo "==> ruff format --check ${lint_paths[*]}"
    .venv/bin/ruff format --check "${lint_paths[@]}" || failed+=("ruff format")

    echo "==> mypy"
    .venv/bin/mypy || failed+=("mypy")
fi

workers="${ALMANAC_TEST_WORKERS:-3}"
echo "==> pytest -n $workers $*"
.venv/bin/pytest -n "$workers" "$@"
rc=$?
case "$rc" in
    0) ;;
    5) echo "test.sh: pytest collected no tests (exit code 5): treated as a failure" >&2
       failed+=("pytest (no tests collected)") ;;
    *) failed+=("pytest (exit code $rc)") ;;
esac

if [ "${#failed[@]}" -gt 0 ]; then
    echo "==> FAILED: ${failed[*]}" >&2
    [ "$rc" -ne 0 ] && exit "$rc"
    exit 1
fi
echo "==> all checks passed"
