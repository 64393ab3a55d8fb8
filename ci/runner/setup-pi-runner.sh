#!/usr/bin/env bash
# Turn a Raspberry Pi with a camera into a self-hosted GitHub Actions runner for
# the HIL workflow (ci/workflows/hil.yml). Run it on the Pi, as root:
#
#   sudo bash ci/runner/setup-pi-runner.sh \
#       --url https://github.com/OWNER/REPO --token RUNNER_TOKEN --board pi5
#
# RUNNER_TOKEN: repository Settings → Actions → Runners → New self-hosted runner.
# What it does, each step safe to repeat:
#   1. apt: python3-picamera2 (picamera2 + libcamera bindings), rpicam-hello, venv, git
#   2. a `runner` user in the `video` group (the camera and encoder device nodes)
#   3. checks that libcamera sees a camera (rpicam-hello --list-cameras)
#   4. ~runner/hil-venv with --system-site-packages (apt's picamera2 is not on
#      PyPI) and tox in it: the workflow runs ~/hil-venv/bin/tox -e hil
#   5. the GitHub runner, labelled `pi-camera` and the board, as a systemd service
set -euo pipefail

RUNNER_VERSION="2.321.0"  # https://github.com/actions/runner/releases
RUNNER_USER="runner"
URL=""
TOKEN=""
BOARD=""
ALLOW_NO_CAMERA=0

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    echo "Options: --url URL --token TOKEN --board LABEL [--user NAME] [--allow-no-camera]"
    exit "${1:-2}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --url) URL="$2"; shift 2 ;;
        --token) TOKEN="$2"; shift 2 ;;
        --board) BOARD="$2"; shift 2 ;;
        --user) RUNNER_USER="$2"; shift 2 ;;
        --allow-no-camera) ALLOW_NO_CAMERA=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown option: $1" >&2; usage ;;
    esac
done

die() { echo "setup-pi-runner: $*" >&2; exit 1; }
step() { echo; echo "==> $*"; }

[ -n "$URL" ] && [ -n "$TOKEN" ] && [ -n "$BOARD" ] || usage
[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
[ "$(uname -m)" = "aarch64" ] || die "expected a 64-bit Raspberry Pi OS (aarch64), not $(uname -m)"
grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null \
    || die "this does not look like a Raspberry Pi ($(tr -d '\0' < /proc/device-tree/model 2>/dev/null || echo unknown))"

step "apt packages"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    python3-picamera2 python3-venv python3-pip git curl tar
# rpicam-hello: desktop images have rpicam-apps, Lite images rpicam-apps-lite.
command -v rpicam-hello >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q rpicam-apps-lite

step "user $RUNNER_USER in group video"
if ! id "$RUNNER_USER" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "$RUNNER_USER"
fi
usermod -aG video "$RUNNER_USER"
RUNNER_HOME="$(getent passwd "$RUNNER_USER" | cut -d: -f6)"

step "camera detection"
cameras="$(sudo -u "$RUNNER_USER" rpicam-hello --list-cameras 2>&1 || true)"
echo "$cameras"
if ! echo "$cameras" | grep -q "^[0-9] : "; then
    if [ "$ALLOW_NO_CAMERA" -eq 1 ]; then
        echo "WARNING: no camera found; the HIL jobs will skip their checks" >&2
    else
        die "libcamera lists no camera: check the ribbon cable (contacts facing the right way), \
then reboot; or pass --allow-no-camera"
    fi
fi

step "venv with system site-packages: $RUNNER_HOME/hil-venv"
sudo -u "$RUNNER_USER" python3 -m venv --system-site-packages "$RUNNER_HOME/hil-venv"
sudo -u "$RUNNER_USER" "$RUNNER_HOME/hil-venv/bin/pip" install -q --upgrade "tox>=4.11"
sudo -u "$RUNNER_USER" "$RUNNER_HOME/hil-venv/bin/python" -c \
    "import picamera2; print('picamera2 importable; cameras:', picamera2.Picamera2.global_camera_info())"

step "GitHub Actions runner $RUNNER_VERSION (labels: pi-camera, $BOARD)"
RUNNER_DIR="$RUNNER_HOME/actions-runner"
if [ ! -x "$RUNNER_DIR/config.sh" ]; then
    sudo -u "$RUNNER_USER" mkdir -p "$RUNNER_DIR"
    archive="actions-runner-linux-arm64-${RUNNER_VERSION}.tar.gz"
    sudo -u "$RUNNER_USER" curl -fsSL -o "$RUNNER_DIR/$archive" \
        "https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/${archive}"
    sudo -u "$RUNNER_USER" tar -xzf "$RUNNER_DIR/$archive" -C "$RUNNER_DIR"
    rm -f "$RUNNER_DIR/$archive"
    "$RUNNER_DIR/bin/installdependencies.sh"
fi
if [ ! -f "$RUNNER_DIR/.runner" ]; then
    # self-hosted, linux and ARM64 are added by the runner itself.
    (cd "$RUNNER_DIR" && sudo -u "$RUNNER_USER" ./config.sh --unattended \
        --url "$URL" --token "$TOKEN" \
        --name "$(hostname)-$BOARD" --labels "pi-camera,$BOARD" --work _work --replace)
fi

step "systemd service"
# svc.sh install writes .service (the unit's name) the first time.
(cd "$RUNNER_DIR" && { [ -f .service ] || ./svc.sh install "$RUNNER_USER"; } && ./svc.sh start)
(cd "$RUNNER_DIR" && ./svc.sh status) | head -n 5

echo
echo "Done: runner $(hostname)-$BOARD is up. Check it under Settings → Actions → Runners."
echo "Try the suite by hand: sudo -u $RUNNER_USER -i; git clone URL; cd REPO;"
echo "  ~/hil-venv/bin/tox -e hil -- --camera picamera2"
