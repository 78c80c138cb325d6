#!/bin/sh
# Install, only when missing, every Debian package retroqat uses (python3: the Z80 handler
# generator export/cpm/cpu/gen_handlers.py and report scripts; libxml2-utils: xmllint, the strict
# parser tests/test_report.c checks the report pages with; fuse-emulator-utils: Fuse's tape tools,
# which tests/test_target_zx48.c lists the .TAP with; the rest: build, tests, targets).
#   scripts/deps.sh            install what is missing (apt-get update once, first)
#   scripts/deps.sh --check    exit 0 when everything is present, 1 otherwise
#   scripts/deps.sh --browser  also the browser the report's rendering test uses (chromium; only
#                              .ci/run and that test need it, not make demo / make test)
#   scripts/deps.sh --libfuzzer [--check]  only clang and its runtime, for `make fuzz-libfuzzer`
set -e
PKGS="pkg-config python3 libopenblas-dev libcjson-dev libcmocka-dev libstb-dev libz80ex-dev sdcc cc65
      gcc-m68k-linux-gnu gcc-mipsel-linux-gnu gcc-powerpc-linux-gnu qemu-user gxemul libxml2-utils
      cc1541 python3-pycparser libspectrum-dev fuse-emulator-utils xorriso"
BROWSER_PKGS="chromium"
[ "$1" = "--browser" ] && PKGS="$PKGS $BROWSER_PKGS"
if [ "$1" = "--libfuzzer" ]; then PKGS="clang libclang-rt-14-dev"; shift; fi

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
