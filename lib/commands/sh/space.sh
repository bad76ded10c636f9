#!/bin/sh
# The disk space a version needs, checked before anything of it is uploaded or built (lib/commands/space.ts),
# as the system user, after the functions of deploy-fns.sh. Arguments: the unit file, the releases and
# configurations directories, the image repository, the suffix of partial versions, the system user, the image
# this version runs and the MiB a new image needs when no live image tells its size, the base image loaded from
# an archive and the archive's MiB ("" and 0 without one); then NAME PATH MIB triples: what this version writes
# where. The image's MiB go to the one named "image store" when the image is not there; the archive's to it and
# to "upload area" when the base image is not there (it is uploaded and loaded only then).
# Short on a filesystem: the versions kept for rollback are pruned (the live one never), then it is checked
# again; still short: refused, naming each filesystem, the space free and the space needed.
set -eu
unit_file=$1 releases=$2 configs=$3 repo=$4 partial=$5 user=$6 ref=$7 new_image_mib=$8 base=$9 base_mib=${10}
shift 10

# `existing PATH`: PATH or its nearest ancestor that exists (a first install creates them later).
existing() {
  p=$1
  until df -P "$p" >/dev/null 2>&1; do p=$(dirname "$p"); done
  echo "$p"
}
mount_of() { df -P "$(existing "$1")" | awk 'NR == 2 { print $6 }'; }
free_mib() { df -Pk "$(existing "$1")" | awk 'NR == 2 { print int($4 / 1024) }'; }

image_mib=0
if ! podman image exists "$ref"; then
  image_mib=$new_image_mib
  live=$(unit_image "$unit_file" 2>/dev/null || true)
  if [ -n "$live" ] && size=$(podman image inspect --format '{{.Size}}' "$live" 2>/dev/null); then image_mib=$((size / 1048576 + 1)); fi
fi

if [ -z "$base" ] || podman image exists "$base"; then base_mib=0; fi

# One line per need: MOUNT MIB NAME (PATH).
needs=""
while [ $# -ge 3 ]; do
  name=$1 path=$2 mib=$3
  shift 3
  case $name in
    "image store") mib=$((mib + image_mib + base_mib)) ;;
    "upload area") mib=$((mib + base_mib)) ;;
  esac
  if [ "$mib" -gt 0 ]; then needs="$needs$(mount_of "$path") $mib $name ($path)
"; fi
done

# The filesystems short of space, one line each: MOUNT: FREE MiB free, NEED MiB needed (NAME (PATH); ...).
short() {
  printf '%s' "$needs" | awk '{ m = $1; n[m] += $2; $1 = ""; $2 = ""; sub(/^ +/, ""); if (m in w) w[m] = w[m] "; " $0; else w[m] = $0 } END { for (m in n) print m, n[m], w[m] }' |
    while read -r m need what; do
      free=$(free_mib "$m")
      if [ "$free" -lt "$need" ]; then echo "$m: $free MiB free, $need MiB needed ($what)"; fi
    done
}

lacking=$(short)
if [ -n "$lacking" ] && [ -f "$unit_file" ]; then
  echo "disk space: short ($lacking); pruning the versions kept for rollback (the live one stays)"
  prune_versions "$unit_file" "$releases" "$user" "$partial" 1
  prune_versions "$unit_file" "$configs" "$user" "$partial" 1
  prune_images "$unit_file" "$repo" 1
  lacking=$(short)
fi
if [ -n "$lacking" ]; then
  echo "not enough disk space for this version (nothing of it was uploaded or built; the running version keeps serving):" >&2
  printf '%s\n' "$lacking" | sed 's/^/  /' >&2
  exit 1
fi
echo "disk space: enough for this version"
