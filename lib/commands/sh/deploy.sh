#!/bin/sh
# Install the unit files and switch to them (deploy.ts explains the switch), as the system user, after the
# functions of deploy-fns.sh. Arguments, in this order (deploy.deployScript):
#   unit names: the service, container, standby, candidate, the https and http socket units, the log rotation timer;
#   directories: Quadlet's, the user units', the releases, the configurations; the system user;
#   files, each as PATH TEXT: quadlet, standby, https socket, http socket, log rotation service and timer, one-off;
#   gunicorn's error log; the note file of the listening sockets in the container (render.LISTEN_FDS_NOTE);
#   seconds a container may take to be healthy; versions kept; the suffix of partial versions; the ERE of the
#   site's Podman secret names (layout.secretNamesRe); the site's image repository; the versions' history file;
#   the command that starts the candidate (quoted for sh: podman run of the new version, detached).
set -eu
unit=$1 container=$2 standby=$3 candidate=$4 https_socket=$5 http_socket=$6 rotate_timer=$7
quadlet_dir=$8 user_unit_dir=$9 releases_dir=${10} configs_dir=${11} user=${12}
quadlet_path=${13} quadlet_text=${14} standby_path=${15} standby_text=${16}
https_socket_path=${17} https_socket_text=${18} http_socket_path=${19} http_socket_text=${20}
rotate_service_path=${21} rotate_service_text=${22} rotate_timer_path=${23} rotate_timer_text=${24}
one_off_path=${25} one_off_text=${26}
error_log=${27} listen_fds_note=${28} healthy_within_s=${29} versions_kept=${30} partial=${31} secret_names_re=${32}
image_repo=${33} history=${34} candidate_run=${35}

active() { systemctl --user is-active --quiet "$1"; }
generated() {
  systemctl --user cat "$unit" >/dev/null 2>&1 || { echo "Quadlet generated no $unit:" >&2; /usr/libexec/podman/quadlet -dryrun -user >&2 || true; exit 1; }
}

# A standby that did not pass: stopped, its file gone, as if it never ran (it has no [Install]: a refusal
# leaves nothing that a restart or a reboot would start).
drop_standby() {
  systemctl --user stop "$standby.service" 2>/dev/null || true
  rm -f "$standby_path"
  systemctl --user daemon-reload
  systemctl --user reset-failed "$standby.service" 2>/dev/null || true
}
refused() {
  echo "deploy refused: the new version did not pass its health check; the running version keeps serving, untouched" >&2
  exit 1
}

mkdir -p "$quadlet_dir" "$user_unit_dir"
# is-active with several units succeeds when any one is active: each is asked alone.
sockets_ok=0
if active "$https_socket" && active "$http_socket" && same "$https_socket_path" "$https_socket_text" && same "$http_socket_path" "$http_socket_text"; then
  sockets_ok=1
fi
standby_note=""
if [ "$sockets_ok" = 1 ] && active "$unit"; then
  # Serving on our sockets: the new version's check is its standby, a second unit on the same sockets. Its
  # nginx starts only once its app answers (FLAGUN_APP_WAIT=inf), so a broken version never takes a
  # connection; a healthy one serves beside the running one while the unit restarts (no second start).
  echo "check: starting $standby (the new version) on the site's sockets beside the running one"
  write_file "$standby_path" 0644 "$standby_text"
  systemctl --user daemon-reload
  systemctl --user restart "$standby.service" || true
  healthy "$standby" "$healthy_within_s" "$error_log" || { drop_standby; refused; }
  # Healthy through its unix socket is not enough: without the public sockets the restart would be a gap.
  podman exec "$standby" test -s "$listen_fds_note" || { drop_standby; echo "deploy stopped: the standby did not receive the listening sockets from systemd; the running version keeps serving" >&2; exit 1; }
  echo "switch: $standby serves while $unit restarts on the new version"
  standby_note="; $standby keeps serving it"
elif active "$unit"; then
  # Serving on ports of its own or other ones: the new version is checked in a throw-away container with no
  # port before the unit lets go of them.
  echo "check: starting $candidate (the new version, no port) beside the running one"
  eval "$candidate_run" >/dev/null
  healthy "$candidate" "$healthy_within_s" "$error_log" || { podman rm -f --ignore "$candidate" >/dev/null 2>&1 || true; refused; }
  podman rm -f --ignore "$candidate" >/dev/null
else
  echo "check: skipped ($unit is not running: no version to protect)"
fi
if [ "$sockets_ok" = 0 ]; then
  # First install, a unit that published its ports itself, or new ports: the unit must let go of the
  # old ports before the socket units can bind the new ones (the only switch with a gap).
  echo "switch: (re)creating the socket units; $unit starts on them"
  systemctl --user stop "$standby.service" "$unit" 2>/dev/null || true
  write_file "$https_socket_path" 0644 "$https_socket_text"
  write_file "$http_socket_path" 0644 "$http_socket_text"
  # A socket unit refuses to start while the service it activates is not loaded: the unit file first.
  write_file "$quadlet_path" 0644 "$quadlet_text"
  systemctl --user daemon-reload
  generated
  systemctl --user stop "$https_socket" "$http_socket" 2>/dev/null || true
  # After a crash loop the unit and its sockets are failed (start limit hit): a fresh count, as a fix deserves.
  systemctl --user reset-failed "$unit" "$https_socket" "$http_socket" 2>/dev/null || true
  systemctl --user enable --now "$https_socket" "$http_socket" 2>&1
fi
# The new version passed its check. These files serve no traffic: loaded by the next daemon-reload.
write_file "$rotate_service_path" 0644 "$rotate_service_text"
write_file "$rotate_timer_path" 0644 "$rotate_timer_text"
write_file "$one_off_path" 0750 "$one_off_text"
# The unit on the new version, checked; then a standby that served meanwhile (if any) ends.
write_file "$quadlet_path" 0644 "$quadlet_text"
systemctl --user daemon-reload
generated
systemctl --user reset-failed "$unit" 2>/dev/null || true
systemctl --user restart "$unit"
healthy "$container" "$healthy_within_s" "$error_log" || { echo "deploy stopped: $unit did not become healthy on the new version$standby_note" >&2; exit 1; }
if active "$standby.service"; then systemctl --user stop "$standby.service"; fi
rm -f "$standby_path"
systemctl --user enable --now "$rotate_timer" 2>&1
# Started at boot even after an operator's `disable` (a drift repair re-runs this); no effect when they are.
systemctl --user enable "$https_socket" "$http_socket" 2>&1
prune_versions "$quadlet_path" "$releases_dir" "$user" "$partial" "$versions_kept"
prune_versions "$quadlet_path" "$configs_dir" "$user" "$partial" "$versions_kept"
prune_secrets "$quadlet_path" "$secret_names_re"
prune_images "$quadlet_path" "$image_repo" "$versions_kept"
# A version from before configuration directories kept its files loose in config/ (beside tls/, the sibling of
# configs/), read by nothing since the switch above: removed by name (a link among them goes, not its target).
legacy=${configs_dir%/*}/config
rm -f "$legacy/nginx.conf" "$legacy/gunicorn.conf.py" "$legacy/logrotate.conf" "$legacy/app.json"
rm -rf "$legacy/.next" 2>/dev/null || echo "left $legacy/.next (an older version's, not removable by $user)"
echo "$unit serves the new version"
record_version "$quadlet_path" "$releases_dir" "$configs_dir" "$image_repo" "$history" "$versions_kept"
