#!/bin/sh
# `subids.sh allocate|release USER COUNT SUBUID SUBGID`, as root (SUBUID and SUBGID: /etc/subuid and /etc/subgid).
# allocate: give USER one COUNT-wide range in both files that overlaps no existing line of either (all lines
# parsed, not just the last), and keep it on re-runs. Prints "START COUNT".
# release: remove exactly USER's lines (the user is ours, so its lines are too).
set -eu
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
action=$1 user=$2 count=$3 subuid=$4 subgid=$5
# Two sites deploying to one host at once must not both take the same free range: allocation (read, then
# usermod) and release hold a lock on the directory of the id files (/etc): always there, root's, and taking
# it creates nothing (usermod replaces the files themselves, so a lock on them would not hold).
lock_dir=$(dirname "$subuid")
exec 8<"$lock_dir"
flock -w 120 8 || { echo "another site held the subordinate id lock ($lock_dir) for 120 s" >&2; exit 1; }
if [ "$action" = release ]; then sed -i "/^$user:/d" "$subuid" "$subgid"; exit 0; fi
touch "$subuid" "$subgid"
have_u=$(awk -F: -v u="$user" '$1==u {print $2" "$3; exit}' "$subuid")
have_g=$(awk -F: -v u="$user" '$1==u {print $2" "$3; exit}' "$subgid")
if [ -n "$have_u" ] && [ "$have_u" = "$have_g" ]; then echo "$have_u"; exit 0; fi
[ -z "$have_u$have_g" ] || { echo "$subuid and $subgid disagree for $user: fix by hand" >&2; exit 1; }
# The lowest start >= 100000 of a free COUNT-wide range: greedy first fit over every well-formed line of both
# files (sorted by start), so unsorted files and odd sizes are fine. Ids reach 2^32: awk prints its numbers
# with %.0f, as mawk's print (and its %d) turn those above 2^31 into 4.29497e+09.
start=$(cat "$subuid" "$subgid" \
  | awk -F: 'NF>=3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ {printf "%.0f %.0f\n", $2, $2+$3}' \
  | sort -n \
  | awk -v want="$count" 'BEGIN{s=100000} {if ($1 >= s + want) exit; if ($2 > s) s = $2} END{printf "%.0f\n", s}')
end=$((start + count - 1))
[ "$end" -lt 4294967295 ] || { echo "no free subordinate id range left" >&2; exit 1; }
usermod --add-subuids "$start-$end" --add-subgids "$start-$end" "$user"
echo "$start $count"
