#!/usr/bin/env bash
# Installs what the tests need on this machine (the disposable test VM, test/host/vm; the shell lint), only if missing.
# Idempotent: a fast no-op (a few `command -v` checks) when everything is present.
set -euo pipefail

# command -> Debian package
declare -A need=(
  [debootstrap]=debootstrap
  [qemu-system-x86_64]=qemu-system-x86
  [qemu-img]=qemu-utils
  [mkfs.ext4]=e2fsprogs
  [ssh]=openssh-client
  [ssh-keygen]=openssh-client
  [curl]=curl
  [openssl]=openssl
  [sslscan]=sslscan             # the TLS scan in test/e2e/robustness.test.ts (row 7)
  [shellcheck]=shellcheck       # scripts/lint-sh (npm run lint:sh) on the host scripts
)
PATH="$PATH:/usr/sbin:/sbin"
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "test/host/deps.sh: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "test/host/deps.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
# Update the package lists once if they are empty or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  "${SUDO[@]}" apt-get update -qq
fi
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "test/host/deps.sh: $cmd still missing after install" >&2; exit 1; }
done
