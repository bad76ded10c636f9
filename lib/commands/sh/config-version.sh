#!/bin/sh
# Install one configuration version (files.installConfigVersion), as the system user. Arguments: the version's
# directory (named by the hash of its content) and the suffix of partial versions. Stdin: its files, each as a
# line `NAME SIZE` and then SIZE bytes (stdin, not arguments: appEnv alone may pass the kernel's limit of one
# argument, 128 KiB).
# Built beside the live one under a partial name and renamed into place complete, so a unit never mounts half a
# version. An existing one has this content (its name says so) and may be the live one: it is kept, and only a
# file that drifted from its declared text (an operator's edit) is put back, atomically (the repair's switch then
# restarts the container on it). tls/ is empty: the unit mounts the certificate's directory over it.
set -eu
dest=$1 partial=$2
umask 077
# A link or file in its place is the user's own doing (a version never installs one): replaced.
if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -d "$dest" ]; }; then rm -f "$dest"; fi
tmp=$(mktemp -d "$dest$partial.XXXXXX")
failed() { rm -rf "$tmp"; echo "configuration $dest: $1" >&2; exit 1; }
# dash's read takes one byte at a time from a pipe and GNU head -c no more than it is asked for: each file's
# bytes are exactly its own. A failed write (a full disk) names its cause and leaves no partial directory.
while IFS=' ' read -r name size; do
  case "$name" in "" | */* | .*) failed "bad file name '$name' in the upload";; esac
  head -c "$size" > "$tmp/$name" || failed "could not write $name"
  [ "$(stat -c %s "$tmp/$name")" = "$size" ] || failed "$name arrived incomplete"
  chmod 0640 "$tmp/$name"
done
if [ -d "$dest" ]; then
  repaired=""
  for f in "$tmp"/*; do
    n=${f##*/}
    if ! cmp -s "$f" "$dest/$n"; then mv -f "$f" "$dest/$n" || failed "could not put back $n"; repaired="$repaired $n"; fi
  done
  rm -rf "$tmp"
  [ -d "$dest/tls" ] || mkdir -m 0750 "$dest/tls"
  echo "configuration $dest already installed${repaired:+; put back:$repaired}"
  exit 0
fi
mkdir -m 0750 "$tmp/tls" || failed "could not create tls/"
chmod 0750 "$tmp"
mv -T "$tmp" "$dest" || failed "could not rename $tmp into place"
echo "configuration $dest installed"
