#!/usr/bin/env bash
# Installs what couchstage's tests and demo need on a fresh Debian machine with Node 20 + npm:
# the Debian packages (XRootD storage elements, gfal2 with its plugins, Chromium for the page
# tests) when missing, then the npm dependencies exactly as locked. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(xrootd-server xrootd-client python3-gfal2 gfal2-plugin-file gfal2-plugin-xrootd
          gfal2-plugin-http gfal2-util-scripts chromium)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: Debian packages present"
npm ci --no-audit --no-fund
