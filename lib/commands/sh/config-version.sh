#!/bin/sh
# Install one configuration version (files.installConfigVersion), as the system user, after the functions of
# deploy-fns.sh. Arguments: the version's directory (named by the hash of its content), the suffix of partial
# versions, then NAME TEXT for each of its files.
# Built beside the live one under a partial name and renamed into place complete, so a unit never mounts half a
# version. An existing one has this content (its name says so) and may be the live one: it is kept, and only a
# file that drifted from its declared text (an operator's edit) is put back, atomically (the repair's switch then
# restarts the container on it). tls/ is empty: the unit mounts the certificate's directory over it.
set -eu
dest=$1 partial=$2
shift 2
# A link or file in its place is the user's own doing (a version never installs one): replaced.
if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -d "$dest" ]; }; then rm -f "$dest"; fi
if [ -d "$dest" ]; then
  repaired=""
  while [ $# -gt 0 ]; do
    if ! same "$dest/$1" "$2"; then write_file "$dest/$1" 0640 "$2"; repaired="$repaired $1"; fi
    shift 2
  done
  [ -d "$dest/tls" ] || mkdir -m 0750 "$dest/tls"
  echo "configuration $dest already installed${repaired:+; put back:$repaired}"
  exit 0
fi
tmp=$(mktemp -d "$dest$partial.XXXXXX")
while [ $# -gt 0 ]; do
  write_file "$tmp/$1" 0640 "$2" || { rm -rf "$tmp"; exit 1; }
  shift 2
done
mkdir -m 0750 "$tmp/tls"
chmod 0750 "$tmp"
mv -T "$tmp" "$dest"
echo "configuration $dest installed"
