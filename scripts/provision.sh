#!/usr/bin/env bash
# Everything the full test suite needs on a Debian machine (root; idempotent):
# Docker engine + offline test image, PostgreSQL on 127.0.0.1:5432, Chromium, Node.js/npm,
# systemd-analyze (the service unit tests verify the units `almanac ... install` writes).
# One apt transaction for whatever is missing, then each provision-*.sh checks and starts its part.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { echo "==> $*"; }

[ "$(id -u)" -eq 0 ] || { echo "error: provision.sh must run as root" >&2; exit 1; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-liberation)
{ command -v pg_ctlcluster >/dev/null 2>&1 && [ -n "$(ls /usr/lib/postgresql 2>/dev/null)" ]; } \
    || missing+=(postgresql)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# Python >= 3.11 with venv/ensurepip (Debian 12: python3 is 3.11; venv lives in python3-venv)
if ! { command -v python3 >/dev/null 2>&1 \
    && python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }; then
    missing+=(python3 python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then
        say "apt-get update"
        apt-get update -qq
        export ALMANAC_APT_UPDATED=1
    fi
    say "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "system packages present"
fi

bash "$here/provision-docker.sh"
bash "$here/provision-postgres.sh"
bash "$here/provision-chromium.sh"
say "node $(node --version), npm $(npm --version 2>/dev/null)"
