#!/usr/bin/env bash
# Stand-ins for the base images of the Dockerfile and compose.yaml, built without any image
# registry: Debian 12 root filesystems made by mmdebstrap from the machine's own apt sources,
# imported with `docker import`. For machines that reach Debian's mirror, PyPI and npm but no
# image registry (the container test, tests/ops/test_containers.py, and CI).
#
#   bash scripts/container-images.sh     # build what is missing or stale (root)
#
# Prints, last, the settings that make the Dockerfile and compose.yaml use the stand-ins:
#   PYTHON_IMAGE=...  NODE_IMAGE=...       docker build --build-arg NAME=VALUE
#   ALMANAC_POSTGRES_IMAGE=...             environment of docker-compose
#
# The stand-ins (tags almanac-standin/<name>:bookworm):
#   python    Debian's python3 (3.11), venv, pip; `python` and `pip` as in python:3.11-slim.
#   node      Debian's nodejs (18), and npm 10 from its own package.
#   postgres  Debian's PostgreSQL (15) behind an entry point that reads POSTGRES_USER,
#             POSTGRES_PASSWORD, POSTGRES_DB and PGDATA as the official image's does.
# Containers may reach no TLS service the host reaches (a proxy's certificate authority is the
# host's alone), so the packages the Dockerfile's `pip install` and `npm ci` fetch are fetched
# here, by the host, and baked into the python and node stand-ins: a wheelhouse (PIP_FIND_LINKS,
# PIP_NO_INDEX) and an npm cache (npm_config_offline). The Dockerfile itself is unchanged.
#
# Idempotent: a root filesystem is rebuilt when its recipe number changes (label
# almanac.standin.recipe) or ALMANAC_REBUILD_STANDINS=1; the package layers when what they
# hold or stand on changes (label almanac.standin.inputs: a digest of the base image's id and
# pyproject.toml's dependencies with the build tools, or package.json and package-lock.json).
# The three root filesystems are built at once (mmdebstrap mostly waits), the packages fetched
# meanwhile.
#
# Env: ALMANAC_DEBIAN_SOURCES (mmdebstrap mirror arguments, space separated; default: the
#      machine's /etc/apt/sources.list and sources.list.d/*.list|*.sources),
#      PYTHON (the host's Python 3.11 that fetches the wheels; default .venv/bin/python).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

recipe=2 # bump when a root filesystem recipe below changes
prefix="almanac-standin"
python_base="$prefix/python-debian:bookworm"
node_base="$prefix/node-debian:bookworm"
python_image="$prefix/python:bookworm"
node_image="$prefix/node:bookworm"
postgres_image="$prefix/postgres:bookworm"
# What the Dockerfile's wheel stage installs besides the project's own requirements.
build_tools=("build>=1.2" "setuptools>=70.1")
# npm: the newest major that runs on Debian 12's Node.js 18 (node:20-slim has npm 10 too).
npm_package="npm@10"

say() { echo "==> [${SECONDS}s] $*" >&2; }
die() { echo "container-images.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap builds root filesystems)"
docker info >/dev/null 2>&1 || die "docker engine not answering (run scripts/provision-docker.sh)"

missing=()
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then apt-get update -qq; export ALMANAC_APT_UPDATED=1; fi
    say "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || die "$python missing (run scripts/install.sh)"

if [ -n "${ALMANAC_DEBIAN_SOURCES:-}" ]; then
    read -r -a sources <<<"$ALMANAC_DEBIAN_SOURCES"
else
    sources=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && sources+=("$f")
    done
    [ "${#sources[@]}" -gt 0 ] || die "no apt sources found: set ALMANAC_DEBIAN_SOURCES"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

label() { docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
digest() { sha256sum | cut -c1-16; }

fresh() { # fresh IMAGE LABEL VALUE: the image exists with that label value
    [ "${ALMANAC_REBUILD_STANDINS:-0}" != 1 ] && [ "$(label "$1" "$2")" = "$3" ]
}

# rootfs IMAGE PACKAGES [mmdebstrap options...] -- [docker import --change ...]
rootfs() {
    local image="$1" packages="$2" name="${1//[\/:]/-}"
    shift 2
    local opts=() changes=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ "$#" -gt 0 ] && shift
    for change in "$@"; do changes+=(--change "$change"); done
    mmdebstrap --quiet --variant=minbase --include="$packages" --dpkgopt=force-unsafe-io \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' "${opts[@]}" \
        bookworm "$work/$name.tar" "${sources[@]}"
    docker import --change 'ENV LANG=C.UTF-8' "${changes[@]}" \
        --change "LABEL almanac.standin.recipe=$recipe" \
        --message "almanac stand-in ($packages)" "$work/$name.tar" "$image" >/dev/null
    rm -f "$work/$name.tar"
}

# rootfs_job IMAGE ARGS...: rootfs in the background when the image is missing or stale.
jobs_started=()
rootfs_job() {
    if fresh "$1" almanac.standin.recipe "$recipe"; then
        say "$1 present"
        return
    fi
    say "$1: mmdebstrap bookworm with $2"
    rootfs "$@" >"$work/${1//[\/:]/-}.log" 2>&1 &
    jobs_started+=("$!:$1")
}

# python:3.11-slim has `python` and a pip that installs into the system's Python.
rootfs_job "$python_base" python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    -- 'CMD ["python3"]'

# npm comes from its own package (below), as in node:20-slim: Debian's npm is hundreds of
# packages, and minutes of mmdebstrap.
rootfs_job "$node_base" nodejs -- 'CMD ["node"]'

rootfs_job "$postgres_image" postgresql \
    --customize-hook='rm -rf "$1"/var/lib/postgresql/* "$1"/etc/postgresql/*' \
    --customize-hook='for b in "$1"/usr/lib/postgresql/*/bin/*; do ln -sf "${b#"$1"}" "$1/usr/local/bin/${b##*/}"; done' \
    --customize-hook='mkdir -p "$1"/var/lib/postgresql/data "$1"/run/postgresql' \
    --customize-hook='chroot "$1" chown postgres:postgres /var/lib/postgresql/data /run/postgresql' \
    --customize-hook="copy-in $root/scripts/standin/postgres-entrypoint.sh /usr/local/bin" \
    -- 'ENV PGDATA=/var/lib/postgresql/data' 'ENTRYPOINT ["postgres-entrypoint.sh"]' \
    'CMD ["postgres"]' 'EXPOSE 5432'

# The packages, fetched by the host while the root filesystems are made. A layer is stale when
# its base is being rebuilt or its inputs changed.
mapfile -t requirements < <("$python" - <<'EOF'
import tomllib

print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
EOF
)
python_inputs="$(printf '%s\n' "${build_tools[@]}" "${requirements[@]}")"
node_inputs="$(echo "$npm_package"; cat package.json package-lock.json)"
stale() { # stale IMAGE BASE INPUTS
    [[ " ${jobs_started[*]} " == *":$2 "* ]] \
        || ! fresh "$1" almanac.standin.inputs "$({ image_id "$2"; echo "$3"; } | digest)"
}

if stale "$python_image" "$python_base" "$python_inputs"; then
    # The wheelhouse: for the stand-in's Python (3.11, the host's Debian 12 one: the same wheels).
    say "$python_image: wheels for ${#requirements[@]} requirements and ${build_tools[*]}"
    mkdir -p "$work/py/wheelhouse"
    "$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$work/py/wheelhouse" \
        "${build_tools[@]}" "${requirements[@]}" 2>"$work/pip.log" \
        || { cat "$work/pip.log" >&2; die "pip wheel failed"; }
fi
if stale "$node_image" "$node_base" "$node_inputs"; then
    # npm itself, and a cache of the lock file's packages (filled by the host's npm: the cache's
    # format is npm's since npm 5).
    say "$node_image: $npm_package and an npm cache of package-lock.json"
    mkdir -p "$work/node/project" "$work/node/npm-cache"
    cp package.json package-lock.json "$work/node/project/"
    (cd "$work/node/project" \
        && npm ci --cache "$work/node/npm-cache" --ignore-scripts --no-audit --no-fund \
            --loglevel=error >/dev/null \
        && npm pack --cache "$work/node/npm-cache" --pack-destination "$work/node" \
            --loglevel=error "$npm_package" >/dev/null \
        && rm -rf "$work/node/npm-cache/_logs")
fi

for job in "${jobs_started[@]}"; do
    if ! wait "${job%%:*}"; then
        cat "$work/$(echo "${job#*:}" | tr '/:' '--').log" >&2
        for other in "${jobs_started[@]}"; do kill "${other%%:*}" 2>/dev/null || true; done
        wait || true
        die "${job#*:}: root filesystem failed"
    fi
    say "${job#*:} built"
done

# layer IMAGE CONTEXT DIGEST < Dockerfile: built from CONTEXT, labelled with DIGEST.
layer() {
    { cat; echo "LABEL almanac.standin.inputs=$3"; } >"$2/Dockerfile"
    docker build --quiet -t "$1" "$2" >/dev/null 2>"$work/build.log" \
        || { cat "$work/build.log" >&2; die "docker build $1 failed"; }
    say "$1 built"
}

if [ -d "$work/py" ]; then
    layer "$python_image" "$work/py" "$({ image_id "$python_base"; echo "$python_inputs"; } | digest)" <<EOF
FROM $python_base
COPY wheelhouse /opt/wheelhouse
ENV PIP_FIND_LINKS=/opt/wheelhouse PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
EOF
else
    say "$python_image present"
fi
if [ -d "$work/node" ]; then
    layer "$node_image" "$work/node" "$({ image_id "$node_base"; echo "$node_inputs"; } | digest)" <<EOF
FROM $node_base
ADD npm-*.tgz /usr/local/lib/
RUN mkdir -p /usr/local/lib/node_modules && mv /usr/local/lib/package /usr/local/lib/node_modules/npm \\
    && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && npm --version
COPY npm-cache /opt/npm-cache
ENV npm_config_cache=/opt/npm-cache npm_config_offline=true
EOF
else
    say "$node_image present"
fi

echo "PYTHON_IMAGE=$python_image"
echo "NODE_IMAGE=$node_image"
echo "ALMANAC_POSTGRES_IMAGE=$postgres_image"
