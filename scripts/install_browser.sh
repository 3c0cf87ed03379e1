#!/usr/bin/env bash
# Debian's chromium (and a CJK font, so pages show Chinese text) for the browser tests.
# Installs only what is missing, and only as root with apt-get; otherwise says why and
# leaves the browser tests to skip (outside CI) or fail (in CI).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "browser tests: ${need[*]} missing and not installable here (needs root and apt-get)" >&2
  exit 0
fi
echo "installing ${need[*]} (Debian packages)…"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
