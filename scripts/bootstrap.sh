#!/usr/bin/env bash
# Installs what `make test`, `make demo` and `make bench` need, then the project:
#   1. Debian packages (apt-get as root, else sudo, else it says what to install);
#   2. a virtual environment in .venv made from the system Python with its site
#      packages visible (GStreamer's Python bindings only import from there);
#   3. the project and its test tools, editable, into that environment.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
APT_PACKAGES=(python3 python3-venv python3-pip poppler-utils ffmpeg clamav clamav-daemon postgresql)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "bootstrap: please install: apt-get install ${missing[*]}" >&2
        exit 3
    fi
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=/usr/bin/python3
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "bootstrap: $PYTHON is older than 3.11; ppe-tech needs Python 3.11 or newer" >&2; exit 3; }

if [ ! -x "$VENV/bin/python" ]; then
    echo "bootstrap: creating $VENV" >&2
    "$PYTHON" -m venv --system-site-packages "$VENV"
fi

stamp="$VENV/.ppe-tech-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/bootstrap.sh -nt "$stamp" ]; then
    echo "bootstrap: installing ppe-tech and its test tools into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' 2> >(grep -v "^WARNING: Location" >&2)
    touch "$stamp"
fi
