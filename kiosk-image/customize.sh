#!/bin/sh
# mmdebstrap's customize hook (see build.sh): $1 is the new root, $2 this
# folder, $3 the folder with the binaries.
set -eu
root=$1
here=$2
bins=$3

cp -r "$here/rootfs/." "$root/"
install -m 0755 "$bins/player" "$bins/kiosk-config" "$root/usr/local/bin/"
mkdir -p "$root/data" "$root/boot/firmware" "$root/usr/share/doc/kiosk"
cp "$here/README.md" "$root/usr/share/doc/kiosk/README.md"

# The player's user (no password, no shell login) and the technician's
# (SSH key only, from kiosk.conf).
chroot "$root" useradd --system --create-home --home-dir /var/lib/player \
    --shell /usr/sbin/nologin --groups video,render,input player
chroot "$root" useradd --create-home --shell /bin/bash technik
chroot "$root" passwd --lock technik

# Settings that live in /run (written at boot by kiosk-config).
ln -sf /run/kiosk/localtime "$root/etc/localtime"
mkdir -p "$root/etc/wpa_supplicant"
ln -sf /run/kiosk/wpa_supplicant.conf "$root/etc/wpa_supplicant/wpa_supplicant-wlan0.conf"

# Boot into the player; no login prompt on the screen.
chroot "$root" systemctl set-default graphical.target
chroot "$root" systemctl enable player.service kiosk-config.service \
    kiosk-ssh-firewall.service nftables.service systemd-networkd.service \
    systemd-resolved.service systemd-timesyncd.service wpa_supplicant@wlan0.service
chroot "$root" systemctl disable getty@tty1.service ssh.service
chroot "$root" systemctl mask serial-getty@ttyAMA0.service

# Security updates unattended (not feature upgrades); reboots at night.
cat > "$root/etc/apt/apt.conf.d/52kiosk-unattended" <<'CONF'
Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename}-security"; };
Unattended-Upgrade::Automatic-Reboot "true";
Unattended-Upgrade::Automatic-Reboot-Time "03:30";
CONF
