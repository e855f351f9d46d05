#!/bin/sh
# Builds the player for the Raspberry Pi image (arm64) on an amd64 Debian 12
# machine, into target/aarch64-unknown-linux-gnu/release/player:
#
#   kiosk-image/player-arm64.sh
#   kiosk-image/build.sh arm64 target/aarch64-unknown-linux-gnu/release out/
#
# On an arm64 machine `cargo build --release -p player --bin player` does the
# same. Needs (see kiosk-image/README.md): the Rust target
# (`rustup target add aarch64-unknown-linux-gnu`), the cross linker
# (gcc-aarch64-linux-gnu) and the arm64 development files of what the
# player links (`dpkg --add-architecture arm64`, then libgstreamer1.0-dev:arm64
# libgstreamer-plugins-base1.0-dev:arm64 libwayland-dev:arm64). The last
# replaces the machine's amd64 one (Debian 12 cannot install both): build
# in a container of its own, or reinstall the amd64 one afterwards.
set -eu
target=aarch64-unknown-linux-gnu
if ! rustc --print target-libdir --target "$target" >/dev/null 2>&1 ||
    [ ! -d "$(rustc --print target-libdir --target "$target")" ]; then
    echo "player-arm64.sh: the Rust target is missing: rustup target add $target" >&2
    exit 2
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    echo "player-arm64.sh: the cross linker is missing: apt-get install gcc-aarch64-linux-gnu" >&2
    exit 2
fi
pkgconfig=/usr/lib/aarch64-linux-gnu/pkgconfig
if [ ! -f "$pkgconfig/gstreamer-video-1.0.pc" ] || [ ! -f "$pkgconfig/wayland-client.pc" ]; then
    echo "player-arm64.sh: the arm64 development files are missing: dpkg --add-architecture arm64;" \
        "apt-get update; apt-get install libgstreamer1.0-dev:arm64" \
        "libgstreamer-plugins-base1.0-dev:arm64 libwayland-dev:arm64" >&2
    exit 2
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# pkg-config answers for the arm64 libraries, not the machine's own.
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_LIBDIR="$pkgconfig:/usr/share/pkgconfig"
cd "$(dirname "$0")/.."
exec cargo build --release -p player --bin player --target "$target"
