# shellcheck shell=sh
# Functions of the switch (deploy.sh), sent before it in one script (hostScript.ts).

# `healthy NAME WITHIN_S ERROR_LOG`: polls flagun-health inside container NAME until it passes (prints the
# seconds) or the container stops running or WITHIN_S pass; then prints its state and last log lines (podman's
# and ERROR_LOG, gunicorn's error log, where an import error lands) to stderr and fails.
healthy() {
  t0=$(date +%s)
  while :; do
    i=$(( $(date +%s) - t0 ))
    if podman exec "$1" flagun-health >/dev/null 2>&1; then echo "$1 healthy after ${i} s"; return 0; fi
    state=$(podman inspect --format "{{.State.Status}} (exit code {{.State.ExitCode}})" "$1" 2>/dev/null || echo "gone")
    case "$state" in running*) [ "$i" -lt "$2" ] && { sleep 1; continue; };; esac
    echo "$1 did not become healthy: state $state after ${i} s. Its last log lines:" >&2
    podman logs --tail 30 "$1" 2>&1 | redact >&2 || true
    echo "--- $3 (last lines):" >&2
    excerpt "$3" >&2 || true
    return 1
  done
}

# `excerpt FILE`: FILE's last 30 lines (of its last 64 KiB, within 5 s), only when it is a regular file of
# this user with one link, checked on the open descriptor against the path: the app writes this directory
# and can put a symlink or hard link to a secret (tls/key.pem) or a FIFO there.
excerpt() {
  # shellcheck disable=SC2016 # the inner sh expands $1 and the $(...): FILE arrives as its argument
  out=$(timeout 5 sh -c 'exec 3<"$1" || exit 1
    [ "$(stat -L -c "%d:%i:%h:%u:%F" /proc/self/fd/3)" = "$(stat -c "%d:%i" -- "$1"):1:$(id -u):regular file" ] || { echo "(not shown: $1 is not a regular file of $(id -un) with one link)"; exit 0; }
    tail -c 65536 <&3 | tail -n 30' sh "$1") || out="(not shown: $1 could not be opened and read within 5 s)"
  printf "%s\n" "$out" | redact
}

# Private keys never reach `up`'s output, whichever log they were written to ([ ]: nor does this pattern's text).
redact() { sed '/-----BEGIN [A-Z ]*PRIVATE[ ]KEY-----/,/-----END [A-Z ]*PRIVATE[ ]KEY-----/c\(private key redacted)'; }

# `same FILE TEXT`: the file already holds exactly TEXT.
same() { [ -f "$1" ] && printf '%s' "$2" | cmp -s - "$1"; }

# `write_file PATH MODE TEXT`: PATH holds TEXT with MODE, replaced atomically (temp file + rename), in the
# shell's umask 077. Any failed step (a full disk) fails the deploy with its own error, never a half-written
# file in place; the temp file does not stay.
write_file() {
  umask 077
  if ! { printf '%s' "$3" > "$1.tmp" && chmod "$2" "$1.tmp" && mv -f "$1.tmp" "$1"; }; then
    rm -f "$1.tmp" 2>/dev/null || true
    echo "could not write $1" >&2
    return 1
  fi
}

# `mounted UNIT_FILE DIR`: the name of DIR's version directory (a release or configuration) that UNIT_FILE mounts.
mounted() { sed -n "s#^Volume=$2/\\([0-9a-f]*\\):.*#\\1#p" "$1"; }

# `unit_image UNIT_FILE`: the image UNIT_FILE runs.
unit_image() { sed -n 's/^Image=//p' "$1"; }

# `prune_versions UNIT_FILE DIR USER PARTIAL KEPT`: deletes the version directories of DIR (releases or
# configurations, each named by its content hash) beyond the KEPT newest, never the one UNIT_FILE mounts, and
# USER's leftovers of interrupted installs (names containing PARTIAL, release.installRelease,
# sh/config-version.sh). As the user: one it cannot delete (a root-owned leftover of an older version, which
# the next release install removes) is named, not a failure.
prune_versions() {
  current=$(mounted "$1" "$2")
  # Version names are content hashes (with the PARTIAL suffix): one a line; `ls -t` is sh's only sort by age.
  # shellcheck disable=SC2010
  ls -1A "$2" | grep -F "$4" | while read -r r; do remove_version "$2" "$r" "$3"; done
  # shellcheck disable=SC2010
  ls -1t "$2" | grep -vF "$4" | tail -n +"$(($5 + 1))" | while read -r r; do [ "$r" = "$current" ] || remove_version "$2" "$r" "$3"; done
}

# `prune_secrets UNIT_FILE NAMES_RE`: deletes the site's Podman secrets (names matching NAMES_RE) that UNIT_FILE
# does not name: the versions of rotated values, once the new version serves (components/appSecret.ts).
prune_secrets() {
  podman secret ls --format '{{.Name}}' | grep -E "$2" | while read -r s; do
    grep -q "^Secret=$s," "$1" || podman secret rm "$s" >/dev/null || echo "left Podman secret $s: podman could not remove it"
  done
}

# `prune_images UNIT_FILE REPO KEPT`: deletes the images of REPO (the site's, each tagged by its content hash)
# beyond the KEPT newest, never the one UNIT_FILE runs: rolling back to a retained version builds nothing.
prune_images() {
  live=$(unit_image "$1")
  podman images --format '{{.Repository}}:{{.Tag}}' "$2" | while read -r ref; do
    echo "$(podman image inspect --format '{{.Created.Unix}}' "$ref" 2>/dev/null || echo 0) $ref"
  done | sort -rn | tail -n +"$(($3 + 1))" | while read -r _ ref; do
    [ "$ref" = "$live" ] || podman rmi "$ref" >/dev/null 2>&1 || echo "left image $ref: podman could not remove it"
  done
}

# `record_version UNIT_FILE RELEASES CONFIGS IMAGE_REPO HISTORY KEPT`: puts the version UNIT_FILE runs (its
# release, configuration and image) first in HISTORY with the time, keeps the KEPT newest versions still on
# the host (their directories and image retained) and prints them, newest (the live one) first, one
# `version SINCE APP CONFIG IMAGE` line each (deploy.ts parseVersions).
record_version() {
  app=$(mounted "$1" "$2")
  config=$(mounted "$1" "$3")
  image=$(unit_image "$1")
  mkdir -p "$(dirname "$5")"
  kept=$({ echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $app $config $image"; cat "$5" 2>/dev/null || true; } | while read -r since a c i; do
    if [ -d "$2/$a" ] && [ -d "$3/$c" ] && podman image exists "$i"; then echo "$since $a $c $i"; fi
  done | awk '!seen[$2 " " $3 " " $4]++' | head -n "$6")
  write_file "$5" 0644 "$kept
"
  printf '%s\n' "$kept" | sed 's/^/version /'
}

# `remove_version DIR NAME USER`
remove_version() {
  rm -rf "${1:?}/${2:?}" 2>/dev/null || echo "left $1/$2: not removable by $3 (owner $(stat -c %U "$1/$2"))"
}
