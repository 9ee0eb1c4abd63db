#!/usr/bin/env bash
# Build the offline test image almanac-test-busybox:latest without any image registry:
# a rootfs made from Debian's busybox-static, imported with `docker import`.
# Idempotent: skipped when the image exists with the current recipe version
# (label almanac.test-image.version); ALMANAC_REBUILD_TEST_IMAGE=1 forces a rebuild.
set -euo pipefail

image="${ALMANAC_TEST_IMAGE:-almanac-test-busybox:latest}"
recipe=2 # bump when the rootfs recipe below changes

say() { echo "==> $*"; }
die() { echo "error: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "docker engine not answering (run scripts/provision-docker.sh)"

have="$(docker image inspect --format '{{index .Config.Labels "almanac.test-image.version"}}' \
    "$image" 2>/dev/null || true)"
if [ "$have" = "$recipe" ] && [ "${ALMANAC_REBUILD_TEST_IMAGE:-0}" != 1 ]; then
    say "test image $image present"
    exit 0
fi

# Debian's busybox-static: /bin/busybox (statically linked, runs in an empty rootfs).
bb=""
for cand in /bin/busybox /usr/bin/busybox; do
    if [ -x "$cand" ] && dpkg -S "$cand" 2>/dev/null | grep -q busybox-static; then
        bb="$cand"; break
    fi
done
if [ -z "$bb" ]; then
    say "installing busybox-static (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then apt-get update -qq; export ALMANAC_APT_UPDATED=1; fi
    apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
    bb=/bin/busybox
fi

say "building $image from $bb"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,proc,sys,dev,var/tmp,run}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$bb" "$root/bin/busybox"

# Equivalent of `busybox --install -s` inside the rootfs, done from outside (no chroot needed):
# one symlink per applet, at the path busybox itself reports.
"$bb" --list-full | while read -r rel; do
    [ -n "$rel" ] || continue
    [ -e "$root/$rel" ] || [ -L "$root/$rel" ] || ln -s /bin/busybox "$root/$rel"
done
# make sure the basics sit in /bin whatever --list-full said
for a in sh ash echo sleep cat yes head tail dd seq env id nproc ls true false kill printf \
    timeout wc grep sed awk ps mkdir rm cp mv touch date pwd whoami stat uname test; do
    [ -e "$root/bin/$a" ] || [ -e "$root/usr/bin/$a" ] || ln -s /bin/busybox "$root/bin/$a"
done

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo "almanac-test" >"$root/etc/hostname"
: >"$root/etc/hosts"

tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
    | docker import \
        -c 'CMD ["/bin/sh"]' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c "LABEL almanac.test-image.version=$recipe" \
        -m "almanac offline test image (busybox-static)" \
        - "$image" >/dev/null

out="$(docker run --rm --network none "$image" sh -c 'echo hi')"
[ "$out" = hi ] || die "test image built but 'echo hi' printed: $out"
say "test image $image built ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
