#!/usr/bin/env bash
# Installs what `make test`, `make demo` and `make bench` need, then the project as a user
# gets it:
#   1. system packages (apt-get on Debian, Astra Linux and ALT; dnf on RED OS and Fedora;
#      elsewhere it says what to install), as root or through sudo;
#   2. a virtual environment in .venv from the system Python holding exactly the lock
#      (requirements/test.txt, every file checked against its hash); made anew when the
#      lock changes, so nothing from an older lock stays behind;
#   3. the project's wheel, built from this tree and installed (not editable), so the
#      tests run against what `pip install` gives a user.
# Safe to run again: a second run installs nothing unless the lock or the source changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-/usr/bin/python3}
say() { echo "bootstrap: $*" >&2; }

# --- 1. system packages -------------------------------------------------------------
# What the tests use besides Python: ffmpeg and ffprobe (recording), poppler (PDF text and
# pages), ClamAV with clamd (antivirus checks), PostgreSQL (the regional centre), util-linux's
# unshare (the offline install test), iproute2 (network namespaces), and npm where it is missing.
APT_PACKAGES=(python3 python3-venv poppler-utils ffmpeg clamav clamav-daemon postgresql util-linux iproute2 git)
DNF_PACKAGES=(python3 poppler-utils ffmpeg clamav clamd postgresql-server util-linux iproute git)
# the programs that tell whether the packages above are there, for systems without dpkg
PROGRAMS=(ffmpeg ffprobe pdftotext clamd clamscan initdb unshare ip git)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else say "please run as root: $*"; exit 3
    fi
}

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    # npm runs the independent ONVIF client of the interoperability test; any Node 18+ will do
    command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing system packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
elif command -v apt-get >/dev/null 2>&1 || command -v dnf >/dev/null 2>&1; then
    # ALT (apt-get over RPM) or RED OS / Fedora (dnf): no dpkg to ask, so look for the programs
    lacking=()
    for prog in "${PROGRAMS[@]}"; do
        command -v "$prog" >/dev/null 2>&1 || [ -x "/usr/sbin/$prog" ] || [ -n "$(ls /usr/lib/postgresql/*/bin/"$prog" /usr/pgsql-*/bin/"$prog" 2>/dev/null)" ] || lacking+=("$prog")
    done
    if [ ${#lacking[@]} -gt 0 ]; then
        say "missing programs: ${lacking[*]}"
        if command -v dnf >/dev/null 2>&1; then
            as_root dnf install -y -q "${DNF_PACKAGES[@]}"
        else
            as_root apt-get update -qq
            as_root apt-get install -y -qq python3 python3-module-venv poppler ffmpeg clamav clamd postgresql16-server util-linux iproute2 git
        fi
    fi
else
    say "this system has neither apt-get nor dnf; install by hand: Python 3.11+ with venv, ffmpeg, poppler-utils, ClamAV with clamd, PostgreSQL server, util-linux, iproute2, git"
fi

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || {
    say "$PYTHON is missing or older than 3.11; ppe-tech needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)"; exit 3; }

# --- 2. the environment, exactly the lock -------------------------------------------
LOCK=requirements/test.txt
lock_stamp="$(sha256sum "$LOCK" | cut -c1-64) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])') $PYTHON"
stamp_file="$VENV/.ppe-tech-lock"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp_file" 2>/dev/null)" != "$lock_stamp" ]; then
    [ -d "$VENV" ] && say "the lock changed: making $VENV anew"
    rm -rf "$VENV"
    say "creating $VENV with the locked dependencies ($LOCK)"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: \
        -r "$LOCK" 2> >(grep -v "^WARNING: Location" >&2)
    "$VENV/bin/python" -m pip check -q >/dev/null || { "$VENV/bin/python" -m pip check >&2; exit 3; }
    echo "$lock_stamp" > "$stamp_file"
fi

# --- 3. the wheel, built from this tree and installed ---------------------------------
# The stamp covers every file that goes into the wheel, and the commit it names.
source_stamp=$( {
    git rev-parse HEAD 2>/dev/null || true
    git status --porcelain --untracked-files=no 2>/dev/null || true
    find ppe_tech checks video journal templates -type f ! -name '*.pyc' ! -name '_build.json' -print0 | sort -z | xargs -0 sha256sum
    sha256sum pyproject.toml setup.py README.md
} | sha256sum | cut -c1-64)
wheel_stamp="$VENV/.ppe-tech-wheel"
if [ "$(cat "$wheel_stamp" 2>/dev/null)" != "$source_stamp" ]; then
    say "building the ppe-tech wheel and installing it into $VENV"
    rm -rf build/lib ./*.egg-info
    mkdir -p dist
    rm -f dist/ppe_tech-*.whl
    log=$(mktemp)
    "$VENV/bin/python" -m build --wheel --no-isolation --outdir dist . >"$log" 2>&1 || {
        cat "$log" >&2; rm -f "$log"; say "the wheel did not build"; exit 3; }
    rm -f "$log"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-index --force-reinstall \
        dist/ppe_tech-*.whl 2> >(grep -v "^WARNING: Location" >&2)
    echo "$source_stamp" > "$wheel_stamp"
fi
