#!/usr/bin/env bash
# Builds the test VM's disk into OUT (an empty, not yet published directory): called by `vm build`,
# which hashes this file and ./packages into the cache key and renames OUT into place when this succeeds.
#   OUT/disk.raw                 ext4 root filesystem (whole disk, no partition table), made with mkfs.ext4 -d
#   OUT/vmlinuz, OUT/initrd.img  the guest's kernel and initramfs, booted directly by qemu
#   OUT/id_ed25519{,.pub}        the admin (deploy) key pair, authorized in the guest
#   OUT/ssh_host_ed25519_key.pub the guest's only SSH host key (pin it)
#   OUT/packages.txt             installed package versions; OUT/build.log
# Needs root (debootstrap, chown). No mounts of the disk image.
set -euo pipefail
OUT="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIRROR="${FLAGUN_VM_MIRROR:-http://deb.debian.org/debian}"
SUITE=trixie
HOSTNAME_=flagun-vm
DISK_SIZE="${FLAGUN_VM_DISK_SIZE:-16G}"
DEB_CACHE="${FLAGUN_CACHE:-$HOME/.cache/flagun-rosupod}/vm/debs"
log() { printf '[%s] build: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { echo "vm build: needs root (debootstrap)" >&2; exit 1; }
ROOT="$OUT/rootfs"
mkdir -p "$ROOT" "$DEB_CACHE"
include="$(grep -v '^\s*#' "$HERE/packages" | grep -v '^\s*$' | paste -sd, -)"

log "debootstrap $SUITE (minbase + $include)"
debootstrap --variant=minbase --include="$include" --cache-dir="$DEB_CACHE" \
  "$SUITE" "$ROOT" "$MIRROR" >>"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log" >&2; exit 1; }

log "configure"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"; }

# Identity and name resolution. qemu user-mode networking: DNS at 10.0.2.3 (no systemd-resolved here).
echo "$HOSTNAME_" >"$ROOT/etc/hostname"
cat >"$ROOT/etc/hosts" <<H
127.0.0.1 localhost
127.0.1.1 $HOSTNAME_
::1 localhost ip6-localhost ip6-loopback
H
rm -f "$ROOT/etc/resolv.conf"
echo "nameserver 10.0.2.3" >"$ROOT/etc/resolv.conf"
: >"$ROOT/etc/machine-id"           # empty: systemd makes a fresh one on each VM's first boot
rm -f "$ROOT/var/lib/dbus/machine-id"
echo "/dev/vda / ext4 defaults,discard 0 1" >"$ROOT/etc/fstab"

# Network: DHCP on the virtio NIC, whatever its name.
mkdir -p "$ROOT/etc/systemd/network"
cat >"$ROOT/etc/systemd/network/80-dhcp.network" <<'N'
[Match]
Name=en* eth*

[Network]
DHCP=yes
N
in_root systemctl enable systemd-networkd.service >>"$OUT/build.log" 2>&1
# Like a real server: network-online.target is reached at boot (Podman's user units wait for it).
in_root systemctl enable systemd-networkd-wait-online.service >>"$OUT/build.log" 2>&1
in_root systemctl add-wants multi-user.target network-online.target >>"$OUT/build.log" 2>&1
# No background apt runs that would hold the dpkg lock while a test provisions the host.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service >>"$OUT/build.log" 2>&1 || true

cat >"$ROOT/etc/apt/sources.list" <<A
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
A

# Admin user: key login only, passwordless sudo.
in_root useradd -m -s /bin/bash -G sudo deploy
in_root usermod -p '*' deploy      # no password, but not "locked" (key logins allowed)
in_root usermod -p '*' root
echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' >"$ROOT/etc/sudoers.d/90-deploy"
chmod 0440 "$ROOT/etc/sudoers.d/90-deploy"
ssh-keygen -q -t ed25519 -N '' -C "flagun-test-vm-admin" -f "$OUT/id_ed25519"
install -d -m 0700 "$ROOT/home/deploy/.ssh"
install -m 0600 "$OUT/id_ed25519.pub" "$ROOT/home/deploy/.ssh/authorized_keys"
uid="$(awk -F: '$1=="deploy"{print $3":"$4}' "$ROOT/etc/passwd")"
chown -R "$uid" "$ROOT/home/deploy/.ssh"

# SSH: exactly one host key (ed25519, made now and recorded), no password logins.
rm -f "$ROOT"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$HOSTNAME_" -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
cut -d' ' -f1,2 "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" >"$OUT/ssh_host_ed25519_key.pub"
cat >"$ROOT/etc/ssh/sshd_config.d/10-flagun.conf" <<'S'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
UseDNS no
S
sed -i 's/^AcceptEnv/#AcceptEnv/' "$ROOT/etc/ssh/sshd_config"   # no LANG from the client (no locales here)

# Trim: no docs for later installs either, no package caches or lists.
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'D'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
D
in_root apt-get clean
in_root dpkg-query -W -f '${Package} ${Version}\n' >"$OUT/packages.txt"
find "$ROOT/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin \
  "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT"/tmp/* "$ROOT"/var/tmp/*
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true

# Kernel and initramfs for qemu's direct boot.
k="$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -1)"
i="$ROOT/boot/initrd.img-${k##*/vmlinuz-}"
[ -f "$i" ] || { echo "vm build: no initrd for $k" >&2; exit 1; }
cp "$k" "$OUT/vmlinuz"; cp "$i" "$OUT/initrd.img"

log "mkfs.ext4 -d ($DISK_SIZE, sparse)"
mkfs.ext4 -q -F -L flagun-root -d "$ROOT" "$OUT/disk.raw" "$DISK_SIZE"
rm -rf --one-file-system "$ROOT"
log "done: $(du -sh --apparent-size "$OUT/disk.raw" | cut -f1) apparent, $(du -sh "$OUT/disk.raw" | cut -f1) used"
