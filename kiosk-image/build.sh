#!/bin/sh
# Builds the kiosk's disk image from Debian 12 packages:
#
#   kiosk-image/build.sh ARCH BIN_DIR OUT_DIR
#
# ARCH is arm64 (Raspberry Pi 4/5) or amd64 (the variant booted in QEMU).
# BIN_DIR holds `player` built for ARCH (on a machine of that
# architecture: `cargo build --release -p player --bins`). OUT_DIR
# receives kiosk-ARCH.img and, for amd64, the kernel and initrd QEMU boots.
# Optional: KIOSK_UPDATE_KEY=path of the player releases' public key.
#
# Tools: mmdebstrap, genimage, mtools, dosfstools, e2fsprogs (Debian's).
# Packages come from the host's apt sources. Reproducible: the package set
# is pinned by the sources' state, timestamps by SOURCE_DATE_EPOCH (default:
# the last commit's time).
set -eu

if [ $# -ne 3 ]; then
    echo "usage: $0 arm64|amd64 BIN_DIR OUT_DIR" >&2
    exit 2
fi
arch=$1
bins=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)

# Kernel modules no display needs stay out of the root, also those of the
# kernels security updates install later (dpkg keeps these path-excludes in
# /etc/dpkg/dpkg.cfg.d): other GPUs' drivers, InfiniBand, ISDN, network and
# cluster file systems. The QEMU variant also leaves out radios, sound,
# cameras, Bluetooth and staging drivers; a Pi needs its Wi-Fi (brcmfmac),
# the HDMI CEC core in drivers/media and VCHIQ in staging.
modules_excluded="drivers/gpu/drm/amd drivers/gpu/drm/radeon drivers/gpu/drm/nouveau
    drivers/infiniband drivers/isdn fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/ceph fs/smb
    fs/nfs fs/nfsd"
case "$arch" in
    amd64)
        kernel=linux-image-amd64
        modules_excluded="$modules_excluded drivers/net/wireless drivers/media
            drivers/staging drivers/bluetooth sound net/wireless net/mac80211
            net/bluetooth drivers/gpu/drm/i915"
        ;;
    # Debian's Pi 4 support: the firmware (start4.elf …) and its kernel hook,
    # which writes config.txt and cmdline.txt (see customize.sh), and the
    # Wi-Fi chip's firmware.
    arm64) kernel="linux-image-arm64 raspi-firmware firmware-brcm80211" ;;
    *)
        echo "build.sh: unknown architecture '$arch' (arm64 or amd64)" >&2
        exit 2
        ;;
esac
if [ ! -x "$bins/player" ]; then
    echo "build.sh: $bins/player is missing or not executable" >&2
    exit 2
fi
for tool in mmdebstrap genimage mcopy mkfs.vfat mke2fs; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: $tool is not installed (see kiosk-image/README.md)" >&2
        exit 2
    fi
done

# A foreign architecture's maintainer scripts run through QEMU's user-mode
# emulation, which the kernel must know to start; its binaries are
# stripped by the cross binutils.
if [ "$arch" = arm64 ] && [ "$(dpkg --print-architecture)" != arm64 ]; then
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || ! command -v arch-test >/dev/null 2>&1 ||
        ! command -v aarch64-linux-gnu-strip >/dev/null 2>&1; then
        echo "build.sh: building for arm64 on $(dpkg --print-architecture) needs QEMU's binfmt" \
            "handler and the cross binutils: apt-get install qemu-user-static binfmt-support" \
            "arch-test binutils-aarch64-linux-gnu" >&2
        exit 2
    fi
fi

# Player updates: the public key releases must be signed with
# (`player-release keygen`), installed as /etc/kiosk/update-key.pub by
# customize.sh. Without it the image's player refuses every update.
if [ -n "${KIOSK_UPDATE_KEY:-}" ]; then
    if [ ! -r "$KIOSK_UPDATE_KEY" ]; then
        echo "build.sh: KIOSK_UPDATE_KEY=$KIOSK_UPDATE_KEY is not a readable file" >&2
        exit 2
    fi
    KIOSK_UPDATE_KEY=$(cd "$(dirname "$KIOSK_UPDATE_KEY")" && pwd)/$(basename "$KIOSK_UPDATE_KEY")
    export KIOSK_UPDATE_KEY
fi

: "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}"
export SOURCE_DATE_EPOCH

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
root="$work/root"

# What the display runs, and nothing else: no desktop, no display manager.
# GStreamer without plugins-bad (115 MiB with GTK, librsvg, flite, Intel's
# media SDK): the player's playbin finds qtdemux and matroskademux in
# -good, libav decodes H.264 and HEVC, libvpx (-good) VP8 and VP9. Debian's
# kernel has no driver for the Pi's video decoder, so -bad's stateless V4L2
# decoders would find nothing to drive. zstd compresses the initramfs
# (initramfs-tools' default; without it gzip, slower to unpack), whose
# module choice (rootfs/etc/initramfs-tools) is copied in by the setup
# hook, before the kernel's package makes the first one.
packages="systemd systemd-sysv systemd-timesyncd systemd-resolved dbus udev kmod netbase
    iproute2 nftables wpasupplicant openssh-server unattended-upgrades
    cloud-guest-utils fdisk
    ca-certificates cage xwayland seatd libvulkan1 mesa-vulkan-drivers v4l-utils
    libgstreamer1.0-0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-libav initramfs-tools zstd $kernel"
excludes=""
for dir in $modules_excluded; do
    excludes="$excludes --dpkgopt=path-exclude=/lib/modules/*/kernel/$dir/*"
done

# The lists split into words, but the excludes' `*` must reach dpkg as is.
set -f
# shellcheck disable=SC2086 # the lists are meant to split into words
mmdebstrap --variant=minbase --architectures="$arch" $excludes \
    --aptopt='APT::Install-Recommends "false"' \
    --components="main non-free-firmware" \
    --include="$(echo $packages | tr ' ' ',')" \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook="mkdir -p \"\$1/etc\" && cp -r \"$here/rootfs/etc/initramfs-tools\" \"\$1/etc/\"" \
    --customize-hook="\"$here/customize.sh\" \"\$1\" \"$here\" \"$bins\" $arch" \
    bookworm "$root"
set +f

# The boot partition: kernel, initrd, the example settings as kiosk.conf.
boot="$work/boot"
mkdir -p "$boot"
cp "$here/kiosk.conf.example" "$boot/kiosk.conf"
if [ "$arch" = arm64 ]; then
    # Firmware, kernel, initrd, device trees, config.txt and cmdline.txt,
    # as Debian's raspi-firmware hook wrote them (customize.sh).
    cp -r "$root/boot/firmware/." "$boot/"
else
    cp "$root"/boot/vmlinuz-* "$out/vmlinuz"
    cp "$root"/boot/initrd.img-* "$out/initrd.img"
fi
rm -rf "$root/boot/firmware"/* "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-*

# FAT made here (a fixed volume id, for the same bytes each build);
# genimage takes it from its input path and adds the ext4 partitions.
truncate -s 256M "$work/boot.vfat"
mkfs.vfat -n KIOSKBOOT -i 4b494f53 "$work/boot.vfat" >/dev/null
mcopy -s -m -i "$work/boot.vfat" "$boot"/* ::
genimage --config "$here/genimage.cfg" --rootpath "$root" \
    --inputpath "$work" --outputpath "$out" --tmppath "$work/genimage"
mv "$out/kiosk.img" "$out/kiosk-$arch.img"
ls -l "$out"
