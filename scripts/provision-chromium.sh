#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests (idempotent).
# Playwright drives it through executable_path: no browser download
# (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
set -euo pipefail

say() { echo "==> $*"; }

if ! command -v chromium >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { echo "error: chromium missing and not root to install it" >&2; exit 1; }
    say "installing chromium (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${ALMANAC_APT_UPDATED:-}" ]; then apt-get update -qq; export ALMANAC_APT_UPDATED=1; fi
    apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
# The Debian launcher script prints a harmless "[: unexpected operator" on some kernels.
say "$(chromium --version 2>/dev/null) at $(command -v chromium)"
