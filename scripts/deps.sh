#!/bin/sh
# Install, only when missing, every Debian package retroqat uses (python3: the Z80 handler
# generator infer/z80/gen_handlers.py and report scripts; the rest: build, tests, targets).
#   scripts/deps.sh          install what is missing (apt-get update once, first)
#   scripts/deps.sh --check  exit 0 when everything is present, 1 otherwise
set -e
PKGS="pkg-config python3 libopenblas-dev libcjson-dev libcmocka-dev libstb-dev libz80ex-dev sdcc cc65
      gcc-m68k-linux-gnu gcc-mipsel-linux-gnu gcc-powerpc-linux-gnu qemu-user gxemul xorriso"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ "$1" = "--check" ]; then
    [ -z "$missing" ] && exit 0
    echo "missing Debian packages:$missing" >&2
    exit 1
fi
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
