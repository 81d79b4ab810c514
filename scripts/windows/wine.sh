#!/usr/bin/env bash
# Runs one Windows command under Wine 10 in the chroot of scripts/windows/setup.sh:
#   scripts/windows/wine.sh python -m pytest ...   (python, ffmpeg... are found on C:\bin)
# Mounts /proc, /sys, /dev, /dev/pts, the checkout and the cache into the chroot (same paths
# as on the host), unmounts them and stops wineserver when the command ends.
# Environment: PPE_WINDOWS_CACHE (default build/windows), WINE_LANG (default C.UTF-8;
# ru_RU.UTF-8 gives code page 1251 as on a Russian Windows); PPE_*/PYTEST_* are passed through.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD
CACHE=$(realpath -m "${PPE_WINDOWS_CACHE:-build/windows}")
CHROOT=$CACHE/chroot
[ -f "$CHROOT/.ppe-wine-ready" ] || { echo "wine.sh: run scripts/windows/setup.sh first" >&2; exit 3; }
# one Wine at a time per cache: a second wine.sh would share the wineserver and kill it at its end
exec 9>"$CACHE/.wine.lock"
flock -w "${PPE_WINE_LOCK_WAIT:-3600}" 9 || { echo "wine.sh: another wine.sh holds $CACHE/.wine.lock" >&2; exit 3; }
mounted=()
cleanup() {
    chroot "$CHROOT" env WINEPREFIX="$CACHE/prefix" wineserver -k >/dev/null 2>&1 || true
    local i
    for (( i=${#mounted[@]}-1; i>=0; i-- )); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
trap "exit 130" INT TERM  # so that the EXIT trap unmounts on a kill too
bind() {  # bind SRC (at the same path inside the chroot)
    local target=$CHROOT$1
    mkdir -p "$target"
    mountpoint -q "$target" && return 0
    mount --bind "$1" "$target"; mounted+=("$target")
}
bind /proc; bind /sys; bind /dev; bind /dev/pts
bind "$ROOT_DIR"
case "$CACHE/" in "$ROOT_DIR"/*) ;; *) bind "$CACHE";; esac
mkdir -p "$CACHE/prefix" "$CACHE/tmp/xdg"; chmod 700 "$CACHE/tmp/xdg"
prog=$1; shift
case "$prog" in
    python) prog="$CACHE/python/python.exe";;
    ffmpeg|ffprobe) prog="$CACHE/bin/$prog.exe";;
esac
# C:\bin is not needed: Z: maps /, so the cache's bin folder is on WINEPATH as Z:\...
winpath="Z:$(echo "$CACHE/bin" | tr / '\\');Z:$(echo "$CACHE/python" | tr / '\\');Z:$(echo "$CACHE/python/Scripts" | tr / '\\')"
pass=()
while IFS='=' read -r name _; do
    case "$name" in PPE_*|PYTEST_*|PYTHON*) pass+=("$name=${!name}");; esac
done < <(env)
cmd=(env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin
     XDG_RUNTIME_DIR="$CACHE/tmp/xdg" WINEPREFIX="$CACHE/prefix" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
     LC_ALL="${WINE_LANG:-C.UTF-8}" WINEPATH="$winpath" "${pass[@]}")
if [ "$prog" = wineboot ] || [ "$prog" = wineserver ]; then
    chroot "$CHROOT" "${cmd[@]}" "$prog" "$@"
else
    # cd into the checkout inside the chroot, so relative paths work
    chroot "$CHROOT" "${cmd[@]}" sh -c 'cd "$1" && shift && exec wine "$@"' sh "$PWD" "$prog" "$@"
fi
