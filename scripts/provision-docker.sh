#!/usr/bin/env bash
# Make a Docker engine answer on this machine (idempotent), then build the offline test image.
#
#   - installs Debian's docker.io when dockerd is missing (apt-get update only when needed);
#   - starts dockerd in the background when `docker info` fails (no systemd required);
#     first with default settings (overlay2, bridge networking), then falling back to
#     vfs storage and no iptables/bridge for sandboxes where those do not work;
#   - waits (bounded) until the daemon answers;
#   - runs scripts/build-test-image.sh unless ALMANAC_SKIP_TEST_IMAGE=1.
#
# Env: DOCKER_WAIT_SECONDS (default 60), ALMANAC_DOCKERD_LOG (default /var/log/almanac-dockerd.log),
#      ALMANAC_DOCKERD_FLAGS (extra flags; when set, only these are tried).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wait_s="${DOCKER_WAIT_SECONDS:-60}"
log="${ALMANAC_DOCKERD_LOG:-/var/log/almanac-dockerd.log}"

say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root for: $*"; fi
}

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then
        as_root apt-get update -qq
        export ALMANAC_APT_UPDATED=1
    fi
    as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

docker_ok() { docker info >/dev/null 2>&1; }

wait_for_docker() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do
        docker_ok && return 0
        # stop waiting early when the daemon we started has died
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then return 1; fi
        sleep 1
    done
    return 1
}

start_dockerd() {
    # $@: flags
    say "starting dockerd ${*:-(default flags)} (log: $log)"
    mkdir -p "$(dirname "$log")"
    # setsid + nohup: the daemon outlives this script and its terminal.
    setsid nohup dockerd "$@" >>"$log" 2>&1 </dev/null &
    local pid=$!
    if wait_for_docker "$wait_s" "$pid"; then
        return 0
    fi
    echo "dockerd $* did not answer within ${wait_s}s; last log lines:" >&2
    tail -n 15 "$log" >&2 || true
    kill "$pid" 2>/dev/null || true
    sleep 2
    rm -f /var/run/docker.pid
    return 1
}

if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io (Debian)"
    apt_install docker.io
fi
if ! command -v docker >/dev/null 2>&1; then
    die "no docker client on PATH after installing docker.io"
fi

if docker_ok; then
    say "docker engine already answering"
else
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd is running but not answering yet; waiting"
        wait_for_docker "$wait_s" || die "dockerd is running but 'docker info' fails; see $log"
    else
        started=0
        if [ -n "${ALMANAC_DOCKERD_FLAGS:-}" ]; then
            # shellcheck disable=SC2086
            start_dockerd $ALMANAC_DOCKERD_FLAGS && started=1
        else
            for flags in "" "--iptables=false" "--storage-driver=vfs --iptables=false --bridge=none"; do
                # shellcheck disable=SC2086
                if start_dockerd $flags; then started=1; break; fi
            done
        fi
        [ "$started" = 1 ] || die "could not start dockerd; see $log"
    fi
fi

say "docker: server $(docker version --format '{{.Server.Version}}' 2>/dev/null)," \
    "storage $(docker info --format '{{.Driver}}' 2>/dev/null)," \
    "cgroup v$(docker info --format '{{.CgroupVersion}}' 2>/dev/null)"

if [ "${ALMANAC_SKIP_TEST_IMAGE:-0}" != 1 ]; then
    bash "$here/build-test-image.sh"
fi
