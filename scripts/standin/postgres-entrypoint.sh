#!/bin/bash
# The postgres stand-in's entry point (scripts/container-images.sh): what compose.yaml uses of
# the official image's. On an empty PGDATA: a cluster whose superuser is POSTGRES_USER with
# POSTGRES_PASSWORD (scram-sha-256 over the network), and the database POSTGRES_DB; then
# PostgreSQL listening on every address, as the user postgres.
set -euo pipefail

if [ "${1:-}" != postgres ]; then
    exec "$@"
fi
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then # a fresh volume is root's
    mkdir -p "$PGDATA" /run/postgresql
    chown -R postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "postgres-entrypoint: set POSTGRES_PASSWORD" >&2; exit 1; }
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        pg_ctl --silent -o "-c listen_addresses=''" -w start
        createdb --username="$user" "$db"
        pg_ctl --silent -m fast -w stop
    fi
    echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
