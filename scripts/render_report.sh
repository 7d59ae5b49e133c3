#!/usr/bin/env bash
# Renders an `amusd bench --report` HTML file to a PNG screenshot with headless Chromium (Debian package `chromium`).
#   scripts/render_report.sh REPORT.html OUT.png [WIDTH HEIGHT]     (default 1400 x 2400)
# Exit status: 0 on success, 2 for bad arguments, 3 if chromium is not installed, 1 if rendering failed.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH HEIGHT]" >&2
  exit 2
fi
report=$1
out=$2
width=${3:-1400}
height=${4:-2400}
[ -f "$report" ] || { echo "error: no such report: $report" >&2; exit 2; }

browser=""
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
[ -n "$browser" ] || { echo "error: chromium is not installed (apt-get install -y chromium)" >&2; exit 3; }

abs_report=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
mkdir -p "$(dirname "$out")"
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$abs_out"

# No network, no GPU, a throw-away profile; the page has no external resources anyway.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --screenshot="$abs_out" --window-size="$width,$height" \
  "file://$abs_report" >"$profile/chromium.log" 2>&1 || true

if [ ! -s "$abs_out" ]; then
  echo "error: chromium wrote no screenshot; its output:" >&2
  cat "$profile/chromium.log" >&2
  exit 1
fi
echo "$abs_out"
