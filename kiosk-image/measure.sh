#!/bin/sh
# The kiosk image's figures: its size (raw, compressed, the root in use) and
# the time from power-on to the player's first frame in QEMU.
#
#   kiosk-image/measure.sh OUT_DIR [RUNS]
#
# OUT_DIR is build.sh's: kiosk-amd64.img, root.ext4, vmlinuz and initrd.img
# for amd64, or kiosk-arm64.img and root.ext4 for arm64. Each run boots a
# copy of the image without a network (the example kiosk.conf: the player
# shows its "connecting" screen) until systemd reports player.service
# started (in the journal, forwarded to the serial console), which is after
# the player's READY=1, sent after its first frame; then cuts the power and
# boots it again. Emulated (TCG) unless KIOSK_QEMU_ACCEL=kvm.
# KIOSK_SCREEN=FILE.ppm keeps the last boot's screen, taken through QEMU's
# monitor 10 s after the first frame. Prints the figures, then one JSON
# line.
#
# arm64: QEMU has no Raspberry Pi 4, so the image's kernel, initrd and
# root boot on QEMU's generic `virt` board (a Cortex-A72, the Pi 4's core)
# with a virtio GPU; the Pi's firmware and device tree are not exercised.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT_DIR [RUNS]" >&2
    exit 2
fi
out=$1
runs=${2:-3}
if [ -f "$out/kiosk-amd64.img" ]; then
    arch=amd64
    needed="kiosk-amd64.img root.ext4 vmlinuz initrd.img"
elif [ -f "$out/kiosk-arm64.img" ]; then
    arch=arm64
    needed="kiosk-arm64.img root.ext4"
else
    echo "measure.sh: no kiosk-amd64.img or kiosk-arm64.img in $out (run build.sh first)" >&2
    exit 2
fi
for f in $needed; do
    if [ ! -f "$out/$f" ]; then
        echo "measure.sh: $out/$f is missing (run build.sh $arch first)" >&2
        exit 2
    fi
done
image="$out/kiosk-$arch.img"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ "$arch" = amd64 ]; then
    qemu="qemu-system-x86_64 -device virtio-vga"
    kernel="$out/vmlinuz"
    initrd="$out/initrd.img"
    console=ttyS0
    if [ "${KIOSK_QEMU_ACCEL:-tcg}" = kvm ]; then
        qemu="$qemu -accel kvm -cpu host"
    else
        qemu="$qemu -accel tcg,thread=multi -cpu max"
    fi
else
    # The kernel and initrd the Pi's firmware would load, from the FAT
    # partition (the first; its start in sectors from the MBR).
    start=$(od -An -tu4 -j 454 -N 4 "$image" | tr -d ' ')
    kernel="$work/vmlinuz"
    initrd="$work/initrd.img"
    # shellcheck disable=SC2012 # names the build made, no odd characters
    name=$(mdir -b -i "$image@@$((start * 512))" :: | sed -n 's|^::/vmlinuz-|vmlinuz-|p' | sort -V | tail -n 1)
    mcopy -n -i "$image@@$((start * 512))" "::$name" "$kernel"
    mcopy -n -i "$image@@$((start * 512))" "::initrd.img-${name#vmlinuz-}" "$initrd"
    qemu="qemu-system-aarch64 -M virt -device virtio-gpu-pci"
    console=ttyAMA0
    if [ "${KIOSK_QEMU_ACCEL:-tcg}" = kvm ]; then
        qemu="$qemu -accel kvm -cpu host"
    else
        qemu="$qemu -accel tcg,thread=multi -cpu cortex-a72"
    fi
fi

raw=$(stat -c %s "$image")
compressed=$(xz -T2 -1 -c "$image" | wc -c)
root_used=$(dumpe2fs -h "$out/root.ext4" 2>/dev/null | awk -F: '
    /^Block count/ { total = $2 } /^Free blocks/ { free = $2 } /^Block size/ { size = $2 }
    END { printf "%d", (total - free) * size }')
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
echo "image ($arch): $(mib "$raw") MiB raw, $(mib "$compressed") MiB compressed (xz -1), root in use $(mib "$root_used") MiB"

# Boots $work/disk.img once; prints the kernel's timestamp (seconds since
# power-on) of systemd's "Started player.service" line, or nothing. Leaves
# QEMU running for $1 seconds after it, then cuts the power (kills QEMU),
# keeping a screen dump in $2 if given.
boot() {
    rm -f "$work/monitor.in" "$work/monitor.out" "$work/serial.log" "$work/screen.ppm"
    mkfifo "$work/monitor.in" "$work/monitor.out"
    # The Pi's command line (raspi/raspi-extra-cmdline), with the journal
    # on the serial console. cage composes with pixman: QEMU's virtual GPU
    # has no EGL driver.
    # shellcheck disable=SC2086 # $qemu is meant to split into words
    timeout 900 $qemu -m 2048 -smp 2 \
        -kernel "$kernel" -initrd "$initrd" \
        -append "root=LABEL=kiosk-root ro quiet loglevel=3 vt.global_cursor_default=0 console=$console systemd.journald.forward_to_console=1 systemd.setenv=WLR_RENDERER=pixman" \
        -drive "file=$work/disk.img,format=raw,if=virtio" \
        -display none -nic none -monitor "pipe:$work/monitor" \
        -serial "file:$work/serial.log" </dev/null >"$work/qemu.log" 2>&1 &
    pid=$!
    # Keeps the monitor's pipes open for as long as QEMU runs (it blocks
    # on opening them otherwise) and drains its answers.
    cat "$work/monitor.out" >/dev/null &
    exec 3<>"$work/monitor.in"
    seconds=""
    waited=0
    while [ -z "$seconds" ] && [ "$waited" -lt 600 ] && kill -0 "$pid" 2>/dev/null; do
        # Not anchored: the serial getty's prompt may start the line.
        seconds=$(sed -n 's/.*\[ *\([0-9.]*\)\] systemd\[1\]: Started player\.service.*/\1/p' \
            "$work/serial.log" 2>/dev/null | head -n 1)
        [ -n "$seconds" ] || { sleep 1; waited=$((waited + 1)); }
    done
    if [ -n "$seconds" ]; then
        sleep "$1"
        if [ -n "${2:-}" ]; then
            echo "screendump $work/screen.ppm" >&3
            waited=0
            while [ ! -s "$work/screen.ppm" ] && [ "$waited" -lt 30 ]; do
                sleep 1
                waited=$((waited + 1))
            done
            sleep 1
            cp "$work/screen.ppm" "$2"
        fi
    fi
    echo quit >&3 || true
    exec 3>&-
    sleep 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -z "$seconds" ]; then
        echo "measure.sh: the player did not start; the console's end:" >&2
        tail -n 30 "$work/serial.log" "$work/qemu.log" >&2
        return 1
    fi
    echo "$seconds"
}

# Each run boots a fresh copy twice: its first boot (the data partition is
# grown, every cache is cold), and again after a power cut 15 s into the
# player's run (a display's everyday power-on: its shader cache is warm).
times=""
later=""
i=0
while [ "$i" -lt "$runs" ]; do
    i=$((i + 1))
    cp --sparse=always "$image" "$work/disk.img"
    first=$(boot 15) || exit 1
    screen=""
    if [ "$i" -eq "$runs" ]; then
        screen=${KIOSK_SCREEN:-}
    fi
    again=$(boot 10 "$screen") || exit 1
    echo "run $i: first frame ${first} s after power-on (first boot), ${again} s (after a power cut)"
    times="$times $first"
    later="$later $again"
done
wait
median() {
    echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '
        { v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
first_median=$(median "$times")
later_median=$(median "$later")
accel_name=${KIOSK_QEMU_ACCEL:-tcg}
echo "boot to first frame ($arch, $accel_name, $runs runs): median ${first_median} s on the first boot, ${later_median} s after a power cut"
list() { echo "$1" | sed 's/^ //; s/ /,/g'; }
printf '{"bench":"kiosk-image","arch":"%s","raw_bytes":%s,"xz_bytes":%s,"root_used_bytes":%s,"accel":"%s","runs":%s,"first_frame_s_median":%s,"first_frame_s":[%s],"later_first_frame_s_median":%s,"later_first_frame_s":[%s]}\n' \
    "$arch" "$raw" "$compressed" "$root_used" "$accel_name" "$runs" "$first_median" \
    "$(list "$times")" "$later_median" "$(list "$later")"
