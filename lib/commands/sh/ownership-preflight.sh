#!/bin/sh
# Read-only, before anything is created (ownership.ownershipPreflight), as root, after marked.sh:
# `ownership-preflight.sh USER MARK MARK_FILE NDIRS [KEY DIR]... [KEY UNIT]...`: the user, the NDIRS directories
# and the system-wide unit names the site would create either do not exist or are ours (KEY: the config key
# that names each, for the message). Prints all conflicts in one message and fails.
set -eu
# shellcheck disable=SC2034 # mark_file: read by marked (marked.sh)
user=$1 mark=$2 mark_file=$3 ndirs=$4
shift 4
problems=''
problem() { problems="$problems
  - $*"; }
if getent passwd "$user" >/dev/null; then
  gecos=$(getent passwd "$user" | cut -d: -f5)
  [ "$gecos" = "$mark" ] || problem "systemUser: user $user already exists (uid $(id -u "$user"), comment \"$gecos\") and was not created by this site ($mark)"
elif getent group "$user" >/dev/null; then
  problem "systemUser: group $user already exists (gid $(getent group "$user" | cut -d: -f3)) without a user of this site"
fi
check_dir() {
  if [ -L "$2" ]; then problem "$1: $2 is a symlink (to $(readlink "$2"), owner $(stat -c %U "$2")), not a directory of this site"
  elif [ -e "$2" ]; then marked "$2" || problem "$1: $2 already exists (owner $(stat -c %U:%G "$2"), $(find "$2" -xdev -mindepth 1 2>/dev/null | wc -l) entries inside) and was not created by this site (no marker file)"
  elif [ "$(readlink -m "$2")" != "$2" ]; then problem "$1: $2 goes through a symlink (it resolves to $(readlink -m "$2"))"
  fi
}
i=0
while [ "$i" -lt "$ndirs" ]; do check_dir "$1" "$2"; shift 2; i=$((i + 1)); done
nunits=$(($# / 2))
# User units in these system-wide directories apply to every user, ours included, and would shadow
# or duplicate the units this site installs in its own home.
while [ $# -gt 0 ]; do
  for f in "/etc/systemd/user/$2" "/etc/containers/systemd/users/$2"; do [ ! -e "$f" ] || problem "$1: $f already exists (owner $(stat -c %U "$f")) and would clash with this site's $2"; done
  shift 2
done
if [ -n "$problems" ]; then
  printf "ownership: nothing was changed, because the site would take over what it did not create:%s\n" "$problems" >&2
  exit 1
fi
echo "ownership: $ndirs directories, the user and $nunits unit names are free or ours"
