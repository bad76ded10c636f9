#!/bin/sh
# Read-only checks, run (as the admin user) before anything changes, so a wrong host fails with one clear
# message, after stage-path.sh: `preflight.sh ADMIN_USER DIR...` (DIR: the way to the stage directory).
set -eu
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
admin=$1
shift
fail() { echo "preflight: $*" >&2; exit 1; }
if [ "$admin" = root ]; then
  [ "$(id -u)" = 0 ] || fail "connected user is not root"
else
  sudo -n true 2>/dev/null || fail "user $(id -un) needs passwordless sudo (or connect as root)"
fi
for c in podman systemctl loginctl useradd usermod userdel runuser flock curl newuidmap newgidmap; do
  command -v "$c" >/dev/null 2>&1 || fail "$c not found: the host needs podman >= 4.4, uidmap, systemd and curl"
done
v=$(podman --version | awk '{print $NF}')
major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
[ "$major" -gt 4 ] || { [ "$major" -eq 4 ] && [ "$minor" -ge 4 ]; } || fail "podman $v is too old: need >= 4.4 (Quadlet)"
[ -d /run/systemd/system ] || fail "systemd is not the init system"
check_stage_path "$admin" "$@"
echo "podman $v"
