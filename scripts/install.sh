#!/usr/bin/env bash
# ppe-tech offline installer: installs the bundle it sits in, with no network at all.
#
#   sudo ./install.sh                      into /opt/ppe-tech, command in /usr/local/bin
#   ./install.sh --prefix ~/ppe-tech --bin-dir ~/.local/bin     without root
#
# Options:
#   --prefix DIR     where the program goes (default /opt/ppe-tech)
#   --bin-dir DIR    where the `ppe-tech` command is linked (default /usr/local/bin)
#   --python PATH    the Python to use (default: the newest python3.X found that the bundle has wheels for)
#   -h, --help       this text
#
# Safe to run again: an upgrade in place. Each version goes to DIR/releases/VERSION-ID and
# DIR/current is switched to it only once it works, so an interrupted install leaves the
# old version running. The journal, keys, recordings and config are never touched: they
# live in the data and config folders (~/.local/share/ppe-tech, ~/.config/ppe-tech, or
# where --data-dir and --config point), not under DIR.
# Exit codes: 0 installed; 2 bad usage; 3 the system cannot take it (Python too old, no
# room, not allowed to write DIR).
set -euo pipefail

PREFIX=/opt/ppe-tech
BIN_DIR=/usr/local/bin
PYTHON=
HERE=$(cd "$(dirname "$0")" && pwd)

say() { echo "install.sh: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { say "--prefix needs a folder"; exit 2; }; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --bin-dir) [ $# -ge 2 ] || { say "--bin-dir needs a folder"; exit 2; }; BIN_DIR=$2; shift 2 ;;
        --bin-dir=*) BIN_DIR=${1#*=}; shift ;;
        --python) [ $# -ge 2 ] || { say "--python needs a path"; exit 2; }; PYTHON=$2; shift 2 ;;
        --python=*) PYTHON=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) say "unknown option '$1' (see '$0 --help')"; exit 2 ;;
    esac
done
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
case "$BIN_DIR" in /*) ;; *) BIN_DIR="$(pwd)/$BIN_DIR" ;; esac

VERSION=$(sed -n 's/^ppe-tech //p' "$HERE/VERSION")
SUPPORTED=$(sed -n 's/^pythons //p' "$HERE/VERSION")

# --- the Python ---------------------------------------------------------------------
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        path=$(command -v "$candidate" 2>/dev/null) || continue
        v=$(version_of "$path") || continue
        case " $SUPPORTED " in *" $v "*) PYTHON=$path; break ;; esac
    done
fi
if [ -z "$PYTHON" ]; then
    found=$(command -v python3 >/dev/null 2>&1 && version_of python3 || echo "none")
    say "ppe-tech $VERSION needs CPython ${SUPPORTED// /, } (this bundle has wheels for those); found: python3 $found."
    say "  Debian 12, Astra Linux 1.8: apt-get install python3    ALT p11: apt-get install python3"
    say "  RED OS 7.3/8: dnf install python3.11    then run again, or name it: --python /usr/bin/python3.11"
    exit 3
fi
PY_VERSION=$(version_of "$PYTHON") || { say "$PYTHON does not run"; exit 3; }
REQS="$HERE/requirements-cp${PY_VERSION/./}.txt"
[ -f "$REQS" ] || { say "this bundle has no wheels for Python $PY_VERSION (it has ${SUPPORTED// /, }); name another with --python"; exit 3; }
"$PYTHON" -c 'import venv' 2>/dev/null || { say "$PYTHON lacks the venv module (ALT: apt-get install python3-module-venv)"; exit 3; }

# --- install into a release folder, then switch to it ---------------------------------
WHEEL=$(cd "$HERE/wheels" && ls ppe_tech-*.whl)
ID=$(sha256sum "$HERE/wheels/$WHEEL" | cut -c1-12)-py$PY_VERSION
RELEASE="$PREFIX/releases/$VERSION-$ID"
mkdir -p "$PREFIX/releases" 2>/dev/null || { say "cannot create $PREFIX (run as root, or choose --prefix)"; exit 3; }
if [ -f "$RELEASE/.complete" ] && "$RELEASE/bin/ppe-tech" --version >/dev/null 2>&1; then
    say "ppe-tech $VERSION is already installed in $RELEASE"
else
    rm -rf "$RELEASE"
    say "installing ppe-tech $VERSION with Python $PY_VERSION ($PYTHON) into $RELEASE"
    "$PYTHON" -m venv --without-pip "$RELEASE"
    PIP_WHEEL=$(ls "$HERE"/wheels/pip-*.whl | head -n 1)
    # pip runs from its wheel inside the new environment: no pip or ensurepip needed on the
    # system; the system's pip settings (indexes, caches, constraints) are not read
    for var in $(compgen -e | grep '^PIP_' || true); do unset "$var"; done
    if ! PIP_CONFIG_FILE=/dev/null PIP_NO_INPUT=1 "$RELEASE/bin/python" "$PIP_WHEEL/pip" install --quiet \
            --disable-pip-version-check --no-cache-dir --no-index --find-links "$HERE/wheels" \
            --require-hashes --no-deps --only-binary=:all: -r "$REQS"; then
        rm -rf "$RELEASE"
        say "the install failed (see pip's message above); the previous version, if any, is unchanged"
        exit 3
    fi
    "$RELEASE/bin/ppe-tech" --version >/dev/null || { rm -rf "$RELEASE"; say "the installed ppe-tech does not start"; exit 3; }
    touch "$RELEASE/.complete"
fi

# the switch: one rename, so `current` is always a whole release
ln -sfn "releases/$VERSION-$ID" "$PREFIX/current.new"
mv -Tf "$PREFIX/current.new" "$PREFIX/current"
mkdir -p "$BIN_DIR"
ln -sfn "$PREFIX/current/bin/ppe-tech" "$BIN_DIR/ppe-tech"
# keep this release and the one before it (to go back by hand: ln -sfn releases/OLD current)
keep="$VERSION-$ID"
previous=$(ls -1t "$PREFIX/releases" | grep -vx "$keep" | head -n 1 || true)
for old in "$PREFIX"/releases/*; do
    name=$(basename "$old")
    [ "$name" = "$keep" ] || [ "$name" = "$previous" ] || rm -rf "$old"
done
say "installed: $("$BIN_DIR/ppe-tech" --version)"
say "  command: $BIN_DIR/ppe-tech -> $PREFIX/current/bin/ppe-tech"

# --- the system programs ppe-tech calls -------------------------------------------------
missing=()
for prog in ffmpeg ffprobe; do command -v "$prog" >/dev/null 2>&1 || missing+=("$prog"); done
command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ] || missing+=("clamd")
if [ ${#missing[@]} -eq 0 ]; then
    say "system programs: ffmpeg, ffprobe and clamd are installed"
    exit 0
fi
. /etc/os-release 2>/dev/null || true
family="${ID:-} ${ID_LIKE:-}"
case "$family" in
    *altlinux*) cmd="apt-get install ffmpeg clamav clamd" ;;
    *redos*|*rhel*|*fedora*|*centos*) cmd="dnf install ffmpeg clamav clamd" ;;
    *astra*|*debian*|*ubuntu*) cmd="apt-get install ffmpeg clamav clamav-daemon" ;;
    *) cmd="" ;;
esac
say "missing system programs: ${missing[*]} (recording needs ffmpeg and ffprobe; the antivirus check uses clamd where there is no other antivirus)"
if [ -n "$cmd" ]; then
    say "  install them with: $cmd"
else
    say "  Debian, Astra Linux: apt-get install ffmpeg clamav clamav-daemon"
    say "  ALT:                 apt-get install ffmpeg clamav clamd"
    say "  RED OS:              dnf install ffmpeg clamav clamd"
fi
say "  (on a station without internet: from the distribution's installation media or a local mirror)"
exit 0
