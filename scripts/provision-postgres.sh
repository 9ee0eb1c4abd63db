#!/usr/bin/env bash
# Make PostgreSQL answer on 127.0.0.1:5432 for user postgres without a password (idempotent).
# For test and CI machines: installs Debian's postgresql when absent, creates/starts the `main`
# cluster without systemd, and, when a password-less TCP login is refused, adds `trust` lines for
# the loopback addresses to pg_hba.conf (marked "almanac-test").
set -euo pipefail

host=127.0.0.1
port=5432
say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

answering() { pg_isready -q -h "$host" -p "$port" 2>/dev/null; }
login_ok() { psql -h "$host" -p "$port" -U postgres -w -tAc 'select 1' postgres >/dev/null 2>&1; }

if command -v pg_isready >/dev/null 2>&1 && answering && login_ok; then
    say "PostgreSQL answering on $host:$port"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "PostgreSQL not answering on $host:$port and not root to set it up"

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    say "installing postgresql (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then apt-get update -qq; export ALMANAC_APT_UPDATED=1; fi
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

# shellcheck disable=SC2012 # version directory names
ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
if [ -z "$ver" ]; then
    # shellcheck disable=SC2012
    ver="$(ls /usr/lib/postgresql | sort -V | tail -n1)"
    say "creating cluster $ver/main"
    pg_createcluster "$ver" main --port "$port" >/dev/null
fi

if ! answering; then
    say "starting PostgreSQL $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
        || die "pg_ctlcluster $ver main start failed (see /var/log/postgresql/)"
    for _ in $(seq 1 30); do answering && break; sleep 1; done
    answering || die "PostgreSQL $ver/main started but $host:$port does not answer"
fi

if ! login_ok; then
    hba="/etc/postgresql/$ver/main/pg_hba.conf"
    if ! grep -q 'almanac-test' "$hba"; then
        say "allowing password-less loopback logins in $hba"
        tmp="$(mktemp)"
        {
            echo "# almanac-test: password-less loopback logins for the test suite"
            echo "host all all 127.0.0.1/32 trust"
            echo "host all all ::1/128 trust"
            cat "$hba"
        } >"$tmp"
        cat "$tmp" >"$hba"
        rm -f "$tmp"
        pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
        sleep 1
    fi
    login_ok || die "cannot log in as postgres on $host:$port without a password"
fi
say "PostgreSQL $ver answering on $host:$port"
