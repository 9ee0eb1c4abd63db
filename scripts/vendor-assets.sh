#!/usr/bin/env bash
# Copy the front-end libraries' browser builds from node_modules/ into app/web/static/vendor/
# (git-ignored). Run `npm ci` first (scripts/install.sh does both).
#
# Files (stable names, no versions in them; templates load them as /static/vendor/<name>):
#   htmx.min.js           htmx 2 (global `htmx`)
#   htmx-ext-sse.js       the SSE extension for htmx 2 (hx-ext="sse", sse-connect, sse-swap)
#   cytoscape.min.js      cytoscape (global `cytoscape`)
#   dagre.min.js          dagre with graphlib and lodash bundled (global `dagre`)
#   cytoscape-dagre.js    the dagre layout for cytoscape; load after the two above (it registers
#                         itself with the global cytoscape)
#   chart.umd.min.js      Chart.js 4 (global `Chart`)
#   VERSIONS.txt          package versions copied
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nm="$root/node_modules"
dest="$root/app/web/static/vendor"

[ -d "$nm" ] || { echo "error: $nm missing; run 'npm ci' first" >&2; exit 1; }

# package  source-path-inside-package  destination-name
files=(
    "htmx.org        dist/htmx.min.js              htmx.min.js"
    "htmx-ext-sse    dist/sse.min.js               htmx-ext-sse.js"
    "cytoscape       dist/cytoscape.min.js         cytoscape.min.js"
    "dagre           dist/dagre.min.js             dagre.min.js"
    "cytoscape-dagre cytoscape-dagre.js            cytoscape-dagre.js"
    "chart.js        dist/chart.umd.min.js         chart.umd.min.js"
)

mkdir -p "$dest"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
for line in "${files[@]}"; do
    read -r pkg src name <<<"$line"
    [ -f "$nm/$pkg/$src" ] || { echo "error: $nm/$pkg/$src missing" >&2; exit 1; }
    cp "$nm/$pkg/$src" "$dest/$name"
    ver="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$nm/$pkg/package.json" | head -n1)"
    echo "$name $pkg@$ver" >>"$tmp"
done
mv "$tmp" "$dest/VERSIONS.txt"
trap - EXIT
chmod 644 "$dest/VERSIONS.txt"
echo "vendored ${#files[@]} files into app/web/static/vendor/: $(cut -d' ' -f2 "$dest/VERSIONS.txt" | paste -sd' ')"
