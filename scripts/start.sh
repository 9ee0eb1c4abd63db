#!/usr/bin/env bash
# Install (idempotent, quiet) and start Almanac on this machine: one `almanac server` with SQLite
# in ./almanac-data and a built-in local agent. It prints the URL and the admin password.
# Arguments go to `almanac server` (see `.venv/bin/almanac server --help`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/install.sh --quiet
exec .venv/bin/almanac server "$@"
