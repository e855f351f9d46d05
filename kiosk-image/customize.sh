#!/bin/sh
# mmdebstrap's customize hook (see build.sh): $1 is the new root, $2 this
# folder, $3 the folder with the binaries, $4 the architecture.
set -eu
root=$1
here=$2
bins=$3
arch=$4

cp -r "$here/rootfs/." "$root/"
# Stripped: the symbols are a third of the player's size. kiosk-config is
# the same binary under another name (it looks at its name).
strip="strip"
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
    strip=aarch64-linux-gnu-strip
fi
install -s --strip-program="$strip" -m 0755 "$bins/player" "$root/usr/local/bin/player"
ln -sf player "$root/usr/local/bin/kiosk-config"
# player-launch too: the unit's ExecStart, which picks the A/B update slot
# on /data and execs it (player/src/update/launch.rs).
ln -sf player "$root/usr/local/bin/player-launch"
# The key player releases must be signed with (build.sh's KIOSK_UPDATE_KEY).
if [ -n "${KIOSK_UPDATE_KEY:-}" ]; then
    install -D -m 0644 "$KIOSK_UPDATE_KEY" "$root/etc/kiosk/update-key.pub"
fi
mkdir -p "$root/data" "$root/boot/firmware" "$root/usr/share/doc/kiosk"
cp "$here/README.md" "$root/usr/share/doc/kiosk/README.md"

# The player's user (no password, no shell login) and the technician's
# (SSH key only, from kiosk.conf).
chroot "$root" useradd --system --create-home --home-dir /var/lib/player \
    --shell /usr/sbin/nologin --groups video,render,input,systemd-journal player
chroot "$root" useradd --create-home --shell /bin/bash technik
chroot "$root" passwd --lock technik

# The kernel's modules compressed (xz, which kmod reads), to about a third:
# 72 MiB for the 3638 of the arm64 image. The CRC32 check is the one the kernel's own decompressor
# also accepts. Modules of later kernel updates stay uncompressed: the
# root keeps room for them (genimage.cfg).
for modules in "$root"/usr/lib/modules/*; do
    find "$modules" -name '*.ko' -print0 | xargs -0 -r -P "$(nproc)" -n 64 xz --check=crc32
    chroot "$root" depmod "$(basename "$modules")"
done

if [ "$arch" = arm64 ]; then
    # What Debian's raspi-firmware hook puts into config.txt and cmdline.txt
    # (it runs again at every kernel update), then the hook itself, which
    # copies firmware, kernel, initrd and device trees to /boot/firmware.
    cp -r "$here/raspi/." "$root/etc/default/"
    chroot "$root" env DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware
fi
if [ "$arch" = amd64 ]; then
    # QEMU's virtual GPU has no EGL driver: cage composes with pixman
    # (wlroots 0.15 crashed in the EGL fallback there).
    mkdir -p "$root/etc/systemd/system/player.service.d"
    printf '[Service]\nEnvironment=WLR_RENDERER=pixman\n' \
        > "$root/etc/systemd/system/player.service.d/qemu.conf"
fi

# D-Bus reads the machine id here; systemd provides /etc/machine-id at boot.
mkdir -p "$root/var/lib/dbus"
ln -sf /etc/machine-id "$root/var/lib/dbus/machine-id"

# Settings that live in /run (written at boot by kiosk-config).
ln -sf /run/kiosk/localtime "$root/etc/localtime"
mkdir -p "$root/etc/wpa_supplicant"
ln -sf /run/kiosk/wpa_supplicant.conf "$root/etc/wpa_supplicant/wpa_supplicant-wlan0.conf"

# Boot into the player; no login prompt on the screen.
chroot "$root" systemctl set-default graphical.target
chroot "$root" systemctl enable player.service kiosk-config.service seatd.service \
    kiosk-ssh-firewall.service nftables.service systemd-networkd.service \
    systemd-resolved.service systemd-timesyncd.service kiosk-grow-data.service \
    kiosk-upgrade.timer
mkdir -p "$root/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants"
ln -sf /lib/systemd/system/wpa_supplicant@.service \
    "$root/etc/systemd/system/sys-subsystem-net-devices-wlan0.device.wants/wpa_supplicant@wlan0.service"
chroot "$root" systemctl disable getty@tty1.service
# Jobs with nothing to do on a read-only root without LVM (they cost boot
# time): dpkg's database backup, ext4 scrubbing of LVM snapshots, and
# wpa_supplicant's D-Bus service (Wi-Fi runs as wpa_supplicant@wlan0).
chroot "$root" systemctl mask dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service
chroot "$root" systemctl disable wpa_supplicant.service
# sshd starts only with a key in kiosk.conf (ssh.service.d/kiosk.conf), with
# the board's own host key: the keys openssh-server made for the image
# would be every board's.
chroot "$root" systemctl enable ssh.service
rm -f "$root"/etc/ssh/ssh_host_*
chroot "$root" systemctl mask serial-getty@ttyAMA0.service

# Security updates unattended (not feature upgrades), at night, by
# kiosk-upgrade.timer: apt's own timers would find the root read-only.
cat > "$root/etc/apt/apt.conf.d/52kiosk-unattended" <<'CONF'
Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename}-security"; };
// No translated package descriptions: 6 MB a night to fetch, unpack and
// write to the card, which nobody reads.
Acquire::Languages "none";
CONF
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer
