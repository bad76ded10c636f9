# shellcheck shell=sh
# `check_stage_path ADMIN_USER DIR...` (DIR: every directory on the way to the stage directory, files.pathChain):
# fails unless every existing one is a real directory (not a symlink) owned by root or ADMIN_USER and writable
# by no one else: only then can no other local user swap an upload between its copy and its install.
# Read-only, so the preflight runs it too.
check_stage_path() {
  admin_uid=$(id -u "$1")
  stage_admin=$1
  shift
  for d in "$@"; do
    [ ! -L "$d" ] || { echo "staging directory $d is a symlink: remove it (nothing was changed)" >&2; exit 1; }
    [ -e "$d" ] || continue
    [ -d "$d" ] || { echo "staging directory $d is not a directory: remove it (nothing was changed)" >&2; exit 1; }
    owner=$(stat -c %u "$d"); if [ "$owner" != 0 ] && [ "$owner" != "$admin_uid" ] || [ -n "$(find "$d" -maxdepth 0 -perm /022)" ]; then
      echo "staging directory $d is owned by $(stat -c '%U' "$d") with mode $(stat -c %a "$d"): it must be owned by root or $stage_admin and writable by no one else; remove it or fix its owner and mode (nothing was changed)" >&2; exit 1
    fi
  done
}
