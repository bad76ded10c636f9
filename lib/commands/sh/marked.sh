# shellcheck shell=sh
# `marked DIR`: true when DIR is a real directory holding exactly our marker file ($mark_file, whose text is
# $mark: both set by the script this is sent with; ownership.ts). DIR may be one the site's user can write
# (installPath in its home), so the marker is read with a size and time limit: a FIFO or a huge file swapped
# in after the checks cannot hang or flood the reader.
# shellcheck disable=SC2154 # mark and mark_file: set by the script this function is sent with
marked() {
  [ -d "$1" ] && [ ! -L "$1" ] && [ -f "$1/$mark_file" ] && [ ! -L "$1/$mark_file" ] && [ "$(timeout 5 head -c 256 -- "$1/$mark_file" 2>/dev/null)" = "$mark" ]
}
