#!/usr/bin/env bash
# Builds the offline base image archive used by the tests: a trimmed Debian trixie rootfs (debootstrap
# minbase) that already holds what the Containerfile would otherwise apt-get, so an image build from it
# needs the network only for pip:
#   python3 python3-venv nginx-light logrotate tini ca-certificates
# Usage: test/host/base-image.sh [OUT.tar]
#   Prints the archive's path (last line of stdout). The archive is cached by content of this script under
#   ${FLAGUN_CACHE:-~/.cache/flagun-rosupod}/base-image/<sha256 of this script>/base.tar and reused when
#   present; with OUT.tar it is also copied there (and OUT.tar printed).
#   Load it with: podman import OUT.tar localhost/flagun-base:trixie
# Needs root (debootstrap, chroot); installs debootstrap when missing.
set -euo pipefail

SUITE=trixie
PACKAGES=python3,python3-venv,nginx-light,tini,ca-certificates
# logrotate (via cron-daemon-common) needs systemd | systemd-standalone-sysusers; debootstrap takes the first
# alternative and fails unpacking systemd, so it is installed afterwards by apt with the small alternative.
LATE_PACKAGES="logrotate systemd-standalone-sysusers"
MIRROR=${FLAGUN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

self=$(readlink -f "${BASH_SOURCE[0]}")
hash=$(sha256sum "$self" | cut -c1-16)
cache_root=${FLAGUN_CACHE:-$HOME/.cache/flagun-rosupod}
dir=$cache_root/base-image/$hash
archive=$dir/base.tar
out=${1:-}

finish() {
  if [ -n "$out" ]; then
    mkdir -p "$(dirname "$out")"
    cp --reflink=auto "$archive" "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
    echo "$out"
  else
    echo "$archive"
  fi
}

if [ -s "$archive" ]; then finish; exit 0; fi

mkdir -p "$dir"
# One builder at a time; a second caller waits and then reuses the result.
exec 9>"$dir/.lock"
flock 9
if [ -s "$archive" ]; then finish; exit 0; fi

[ "$(id -u)" -eq 0 ] || { echo "base-image.sh: debootstrap needs root" >&2; exit 1; }
PATH="$PATH:/usr/sbin:/sbin"
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base-image.sh: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

work=$(mktemp -d "$dir/build.XXXXXX")
cleanup() {
  { findmnt -rno TARGET | grep "^$work/" || true; } | sort -r | xargs -r -n1 umount -l || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root=$work/root

echo "base-image.sh: debootstrap $SUITE ($PACKAGES) ..." >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 40 "$work/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 40 "$root/debootstrap/debootstrap.log" >&2
  exit 1
}

echo "base-image.sh: apt-get install $LATE_PACKAGES ..." >&2
[ -s "$root/etc/resolv.conf" ] || cp /etc/resolv.conf "$root/etc/resolv.conf"
{
  chroot "$root" apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends $LATE_PACKAGES
} >"$work/apt.log" 2>&1 || { tail -n 40 "$work/apt.log" >&2; exit 1; }
for cmd in python3 nginx logrotate tini; do
  chroot "$root" sh -c "command -v $cmd" >/dev/null || { echo "base-image.sh: $cmd missing from the rootfs" >&2; exit 1; }
done

# Trim: package caches and lists, docs, man pages, locales, logs; empty the pseudo filesystems (never
# through a mount: debootstrap may have left /proc or a bound /dev mounted in the tree).
chroot "$root" apt-get clean
{ findmnt -rno TARGET | grep "^$root/" || true; } | sort -r | xargs -r -n1 umount -l
rm -rf --one-file-system "${root:?}"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian \
  "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/debootstrap \
  "${root:?}"/tmp/* "${root:?}"/var/tmp/* "${root:?}"/run/* "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*
find "$root" -name __pycache__ -type d -prune -exec rm -rf {} +
# Keep dpkg from reinstalling what was trimmed, should anything be apt-get installed on top.
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
cat >"$root/etc/dpkg/dpkg.cfg.d/01-flagun-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
: >"$root/etc/machine-id"
rm -f "$root/etc/hostname" "$root/etc/resolv.conf"

tar --numeric-owner --xattrs --sort=name -C "$root" -cf "$work/base.tar" .
mv -f "$work/base.tar" "$archive"
echo "base-image.sh: built $archive ($(du -h "$archive" | cut -f1))" >&2
finish
