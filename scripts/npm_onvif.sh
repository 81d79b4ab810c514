#!/usr/bin/env bash
# Installs the independent ONVIF client used by the interoperability test: the npm package
# `onvif` (agsh/onvif), pinned, into build/npm-onvif (or $1). Safe to run again: does nothing
# when that version is there. Needs node and npm (Node 20 on the project's machines).
set -euo pipefail
VERSION=0.8.3
DEST="${1:-$(cd "$(dirname "$0")/.." && pwd)/build/npm-onvif}"
if [ -f "$DEST/node_modules/onvif/package.json" ] && grep -q "\"version\": \"$VERSION\"" "$DEST/node_modules/onvif/package.json"; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm_onvif: npm is not installed (apt-get install nodejs npm)" >&2; exit 3; }
mkdir -p "$DEST"
npm install --prefix "$DEST" --no-audit --no-fund --no-save --loglevel=error "onvif@$VERSION" >&2
