#!/bin/sh
# The kiosk image's figures: its size (raw, compressed, the root in use) and
# the time from power-on to the player's first frame in QEMU.
#
#   kiosk-image/measure.sh OUT_DIR [RUNS]
#
# OUT_DIR is build.sh's (amd64): kiosk-amd64.img, root.ext4, vmlinuz,
# initrd.img. Each run boots a copy of the image without a network (the
# example kiosk.conf: the player shows its "connecting" screen) until
# systemd reports player.service started (in the journal, forwarded to the
# serial console), which is after the player's READY=1, sent after its
# first frame. Emulated (TCG) unless
# KIOSK_QEMU_ACCEL=kvm. Prints the figures, then one JSON line.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT_DIR [RUNS]" >&2
    exit 2
fi
out=$1
runs=${2:-3}
for f in kiosk-amd64.img root.ext4 vmlinuz initrd.img; do
    if [ ! -f "$out/$f" ]; then
        echo "measure.sh: $out/$f is missing (run build.sh amd64 first)" >&2
        exit 2
    fi
done
if [ "${KIOSK_QEMU_ACCEL:-tcg}" = kvm ]; then
    accel="-accel kvm -cpu host"
else
    accel="-accel tcg,thread=multi -cpu max"
fi

raw=$(stat -c %s "$out/kiosk-amd64.img")
compressed=$(xz -T2 -1 -c "$out/kiosk-amd64.img" | wc -c)
root_used=$(dumpe2fs -h "$out/root.ext4" 2>/dev/null | awk -F: '
    /^Block count/ { total = $2 } /^Free blocks/ { free = $2 } /^Block size/ { size = $2 }
    END { printf "%d", (total - free) * size }')
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
echo "image: $(mib "$raw") MiB raw, $(mib "$compressed") MiB compressed (xz -1), root in use $(mib "$root_used") MiB"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
times=""
i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    cp --sparse=always "$out/kiosk-amd64.img" "$work/disk.img"
    # shellcheck disable=SC2086 # $accel is meant to split into words
    timeout 600 qemu-system-x86_64 $accel -m 2048 -smp 2 \
        -kernel "$out/vmlinuz" -initrd "$out/initrd.img" \
        -append "root=LABEL=kiosk-root ro console=ttyS0 systemd.journald.forward_to_console=1" \
        -drive "file=$work/disk.img,format=raw,if=virtio" \
        -device virtio-vga -display none -monitor none -nic none \
        -serial stdio </dev/null >"$work/serial.log" 2>&1 &
    qemu=$!
    # The kernel's own timestamp of the line: seconds since power-on.
    seconds=""
    waited=0
    while [ -z "$seconds" ] && [ "$waited" -lt 300 ] && kill -0 "$qemu" 2>/dev/null; do
        seconds=$(sed -n 's/^\[ *\([0-9.]*\)\] systemd\[1\]: Started player\.service.*/\1/p' \
            "$work/serial.log" | head -n 1)
        [ -n "$seconds" ] || { sleep 1; waited=$((waited + 1)); }
    done
    kill "$qemu" 2>/dev/null || true
    wait "$qemu" 2>/dev/null || true
    if [ -z "$seconds" ]; then
        echo "measure.sh: run $i: the player did not start; the console's end:" >&2
        tail -n 30 "$work/serial.log" >&2
        exit 1
    fi
    echo "run $i: first frame ${seconds} s after power-on"
    times="$times $seconds"
done
median=$(echo "$times" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '
    { v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
accel_name=${KIOSK_QEMU_ACCEL:-tcg}
echo "boot to first frame: median ${median} s over $runs runs ($accel_name)"
printf '{"bench":"kiosk-image","raw_bytes":%s,"xz_bytes":%s,"root_used_bytes":%s,"accel":"%s","runs":%s,"first_frame_s_median":%s,"first_frame_s":[%s]}\n' \
    "$raw" "$compressed" "$root_used" "$accel_name" "$runs" "$median" \
    "$(echo "$times" | sed 's/^ //; s/ /,/g')"
