#!/usr/bin/env bash
# Build libcamera with its software "virtual" camera and Python bindings, for the
# software-in-the-loop tier (`tox -e sil`, tests/sil/): about 270 s of CPU (two
# to five minutes on two cores), 4 MB installed. See the comments on each option.
#
#   ci/build-libcamera.sh            build, or reuse the cached build; the last line
#                                    of stdout is the install prefix
#
# Source: $LIBCAMERA_SOURCE (a tree or a tarball of raspberrypi/libcamera, tag
# v0.7.1+rpt20260429), else the vendored tarball ../shared/vendor/ beside the
# checkout (where CI puts it). With internet, a clone works as well:
#   git clone -b v0.7.1+rpt20260429 https://github.com/raspberrypi/libcamera
#   LIBCAMERA_SOURCE=$PWD/libcamera tox -e sil
#
# Cache: ${MJPEG_SERVER_SIL_CACHE:-${XDG_CACHE_HOME:-~/.cache}/mjpeg-server/libcamera}/KEY,
# KEY being a hash of the source, these options, the Python and the virtual camera's
# configuration. Outside the source tree, so `git clean`, `tox -r` and a fresh clone
# keep it, every clone and worktree of the user shares it, and CI can cache that one
# folder; keyed, so a different source or option never reuses a stale build. A build
# is complete only once its stamp file is written (an interrupted one is redone), and
# a lock keeps two concurrent runs from building the same key twice.
#
# Exit status: 0 built or reused; 3 cannot build here (no source, or build packages
# missing; the reason is the last line of stdout, and the tier skips with it);
# anything else a failed build (never a skip: the log's tail is on stderr).
set -euo pipefail

UNAVAILABLE=3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TAG="v0.7.1+rpt20260429"
TARBALL_NAME="libcamera-$TAG.tar.gz"
# The system Python: the bindings are built for the interpreter meson finds and
# are loadable only by that one (same version and ABI). The sil tox env runs on it.
PYTHON="${LIBCAMERA_PYTHON:-/usr/bin/python3}"
APT_PACKAGES="meson ninja-build pkg-config g++ pybind11-dev python3-dev python3-yaml \
python3-ply python3-jinja2 libyuv-dev libyaml-dev libjpeg-dev libevent-dev \
libgnutls28-dev libudev-dev"
MESON_OPTIONS=(
    --buildtype=release
    --libdir=lib
    # GCC 12 at -O3 reports a false -Werror=restrict in src/apps/common/options.cpp.
    -Dwerror=false
    -Dpipelines=virtual
    -Dipas=[]
    -Dpycamera=enabled
    # Without udev, enumeration walks /sys/bus/media, which a container lacks, and
    # the camera manager fails to start ("No such device").
    -Dudev=enabled
    # Only the Python bindings are used: no cam or qcam application (a fifth less
    # to compile), no GStreamer element, no V4L2 compatibility layer.
    -Dcam=disabled
    -Dgstreamer=disabled
    -Dqcam=disabled
    -Dv4l2=disabled
    -Dlc-compliance=disabled
    -Dtest=false
    -Ddocumentation=disabled
    -Dtracing=disabled
    -Drpi-awb-nn=disabled
    -Dsoftisp-gpu=disabled
)
# The virtual cameras (the pipeline reads $PREFIX/share/libcamera/pipeline/virtual/
# virtual.yaml; no variable names another file). A size not listed snaps to the
# largest listed one. FrameDurationLimits are advertised from the first format's
# frame_rates only: 1-30 fps, as a typical sensor mode, so an asked 60 fps is
# clamped as on a Pi. The frames are a camera-like scene (see install_frames).
virtual_yaml() {
    cat <<EOF
# Written by mjpeg-server's ci/build-libcamera.sh for the SIL tier.
%YAML 1.1
---
"mjpeg-server-sil":
  supported_formats:
  - width: 1280
    height: 720
    frame_rates: [1, 30]
  - width: 640
    height: 480
    frame_rates: [1, 30]
  - width: 1920
    height: 1080
    frame_rates: [1, 30]
  frames:
    path: "$1/share/mjpeg-server-sil/frames/"
  location: "CameraLocationExternal"
  model: "mjpeg-server SIL virtual camera"
EOF
}

say() { printf 'build-libcamera: %s\n' "$*" >&2; }
unavailable() {
    say "cannot build here: $*"
    # Also the last line of stdout, which is what callers read (stderr is the log).
    printf '%s\n' "$*"
    exit "$UNAVAILABLE"
}

# Sets SOURCE (not printed: unavailable() must reach stdout, not a substitution).
find_source() {
    if [ -n "${LIBCAMERA_SOURCE:-}" ]; then
        [ -e "$LIBCAMERA_SOURCE" ] || unavailable "LIBCAMERA_SOURCE=$LIBCAMERA_SOURCE does not exist"
        SOURCE="$LIBCAMERA_SOURCE"
        return
    fi
    # Beside this checkout (CI), or beside the main checkout when this is a git worktree.
    local candidates=("$ROOT/../shared/vendor/$TARBALL_NAME")
    local common
    if common="$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)"; then
        candidates+=("$(dirname "$common")/../shared/vendor/$TARBALL_NAME")
    fi
    local candidate
    for candidate in "${candidates[@]}"; do
        if [ -f "$candidate" ]; then
            SOURCE="$(cd "$(dirname "$candidate")" && pwd)/$TARBALL_NAME"
            return
        fi
    done
    unavailable "no libcamera source: set LIBCAMERA_SOURCE to a tree or tarball of" \
        "raspberrypi/libcamera $TAG (git clone -b $TAG https://github.com/raspberrypi/libcamera)," \
        "or put $TARBALL_NAME in ../shared/vendor/ beside the checkout"
}

# What identifies the source: a tarball's hash, a git tree's commit (and its
# uncommitted changes), or for a plain tree the names, sizes and times of its files.
source_identity() {
    local source="$1"
    if [ -f "$source" ]; then
        sha256sum "$source" | cut -d' ' -f1
    elif git -C "$source" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        { git -C "$source" rev-parse HEAD; git -C "$source" diff HEAD; } | sha256sum | cut -d' ' -f1
    else
        (cd "$source" && find . -type f -printf '%P %s %T@\n' | LC_ALL=C sort) \
            | sha256sum | cut -d' ' -f1
    fi
}

check_packages() {
    local missing=()
    local tool
    for tool in meson ninja pkg-config g++; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    local module
    for module in pybind11 yaml-0.1 libjpeg libevent gnutls libudev; do
        pkg-config --exists "$module" 2>/dev/null || missing+=("$module (pkg-config)")
    done
    # Debian's libyuv-dev ships no .pc file; without the header meson would try to
    # download libyuv as a subproject, which CI cannot.
    [ -f /usr/include/libyuv.h ] || missing+=("libyuv.h")
    if [ ! -x "$PYTHON" ]; then
        missing+=("$PYTHON")
    else
        "$PYTHON" -c 'import sysconfig, os.path, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
            || missing+=("Python.h for $PYTHON")
        "$PYTHON" -c 'import yaml, ply, jinja2' 2>/dev/null \
            || missing+=("yaml/ply/jinja2 for $PYTHON")
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        unavailable "build packages missing: ${missing[*]}; on Debian 12:" \
            "apt-get install $APT_PACKAGES"
    fi
}

unpack() {
    local source="$1" into="$2"
    if [ -d "$source" ]; then
        printf '%s\n' "$(cd "$source" && pwd)"
        return
    fi
    mkdir -p "$into"
    tar -xzf "$source" -C "$into"
    # The vendored archive unpacks to libcamera/; take whatever single folder it has.
    local top
    top="$(find "$into" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
    [ -f "$top/meson.build" ] || { say "$source holds no libcamera tree"; exit 1; }
    printf '%s\n' "$top"
}

# Camera-like frames for the virtual camera: the repository's frame maker at
# 1920x1080 with detail and noise (JPEG costs of a real scene, not of a flat card)
# when a Python with Pillow is at hand ($SIL_FRAMES_PYTHON; the sil tox env passes
# its own), else the repository's plain test cards. The pipeline wants 0.jpg, 1.jpg …
install_frames() {
    local frames="$1/share/mjpeg-server-sil/frames"
    local made="$1/share/mjpeg-server-sil/made"
    mkdir -p "$frames" "$made"
    local python="${SIL_FRAMES_PYTHON:-}"
    if [ -n "$python" ] && "$python" -c 'import PIL' 2>/dev/null; then
        "$python" "$ROOT/fixtures/make_frames.py" "$made" --size 1920x1080 --detail >&2
        echo "scene: fixtures/make_frames.py --size 1920x1080 --detail" >"$1/share/mjpeg-server-sil/FRAMES"
    else
        cp "$ROOT"/fixtures/frames/*.jpg "$made/"
        echo "cards: fixtures/frames (no Pillow for the scene frames)" >"$1/share/mjpeg-server-sil/FRAMES"
    fi
    local index=0 file
    for file in $(ls "$made" | sort -n); do
        mv "$made/$file" "$frames/$index.jpg"
        index=$((index + 1))
    done
    rmdir "$made"
}

build() {
    local source="$1" prefix="$2" work="$3"
    local tree
    tree="$(unpack "$source" "$work/src")"
    # Every python3 the build runs (meson, its generator scripts) is the system one.
    local native="$work/native.ini"
    printf "[binaries]\npython3 = '%s'\npython = '%s'\n" "$PYTHON" "$PYTHON" >"$native"
    local started=$SECONDS
    (
        export PATH="/usr/sbin:/usr/bin:/sbin:/bin"
        meson setup "$work/build" "$tree" --prefix="$prefix" --native-file="$native" \
            "${MESON_OPTIONS[@]}"
        ninja -C "$work/build"
        ninja -C "$work/build" install
    ) >"$work/build.log" 2>&1 || {
        tail -n 40 "$work/build.log" >&2
        say "build failed; full log: $work/build.log"
        exit 1
    }
    mkdir -p "$prefix/share/libcamera/pipeline/virtual"
    virtual_yaml "$prefix" >"$prefix/share/libcamera/pipeline/virtual/virtual.yaml"
    install_frames "$prefix"
    # What a process needs to load the bindings (no rpath: LD_LIBRARY_PATH).
    local binding
    binding="$(find "$prefix" -name '_libcamera*.so' | head -n 1)"
    [ -n "$binding" ] || { say "the build installed no Python bindings"; exit 1; }
    {
        echo "LD_LIBRARY_PATH=$prefix/lib"
        echo "PYTHONPATH=$(dirname "$(dirname "$binding")")"
        echo "LIBCAMERA_TAG=$TAG"
        echo "PYTHON=$PYTHON"
        echo "BUILD_SECONDS=$((SECONDS - started))"
    } >"$prefix/sil.env"
    say "built in $((SECONDS - started)) s"
}

main() {
    find_source
    local source="$SOURCE"
    [ -x "$PYTHON" ] || unavailable "no $PYTHON to build the bindings for"
    local python_version
    python_version="$("$PYTHON" -c 'import sys, sysconfig; print(sys.version.split()[0], sysconfig.get_config_var("SOABI"))')"
    local key
    key="$(
        {
            source_identity "$source"
            printf '%s\n' "${MESON_OPTIONS[@]}" "$python_version" "$(uname -m)"
            virtual_yaml PREFIX
            # The recipe itself: a changed install step is a new build.
            declare -f build install_frames
        } | sha256sum | cut -c1-16
    )"
    local cache="${MJPEG_SERVER_SIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mjpeg-server/libcamera}"
    local prefix="$cache/$key"
    mkdir -p "$cache"
    exec 9>"$cache/$key.lock"
    flock 9
    if [ -f "$prefix/.complete" ]; then
        say "reusing $prefix"
    else
        check_packages
        say "building libcamera $TAG from $source into $prefix (a few minutes)"
        rm -rf "$prefix" "$cache/$key.work"
        build "$source" "$prefix" "$cache/$key.work"
        rm -rf "$cache/$key.work"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$prefix/.complete"
    fi
    printf '%s\n' "$prefix"
}

main "$@"
