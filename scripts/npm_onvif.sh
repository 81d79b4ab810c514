#!/usr/bin/env bash
# Installs the independent ONVIF client used by the interoperability test: the npm package
# `onvif` (agsh/onvif), exactly as tests/interop/package-lock.json pins it (versions and
# integrity hashes), into build/npm-onvif (or $1) with `npm ci`. Safe to run again: does
# nothing when that lock is installed there. Needs node and npm (Node 20 on the project's machines).
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
LOCK="$HERE/tests/interop"
DEST="${1:-$HERE/build/npm-onvif}"
if [ -f "$DEST/node_modules/onvif/package.json" ] && cmp -s "$LOCK/package-lock.json" "$DEST/package-lock.json"; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm_onvif: npm is not installed (apt-get install nodejs npm)" >&2; exit 3; }
mkdir -p "$DEST"
cp "$LOCK/package.json" "$LOCK/package-lock.json" "$DEST/"
npm ci --prefix "$DEST" --no-audit --no-fund --loglevel=error >&2
