#!/bin/sh
# Install the unit files and switch to them (deploy.ts explains the switch), as the system user, after the
# functions of deploy-fns.sh. Arguments, in this order (deploy.deployScript):
#   unit names: the service, container, standby, candidate, the https and http socket units, the log rotation timer;
#   directories: Quadlet's, the user units', the releases; the system user;
#   files, each as PATH TEXT: quadlet, standby, https socket, http socket, log rotation service and timer, one-off;
#   gunicorn's error log; the note file of the listening sockets in the container (render.LISTEN_FDS_NOTE);
#   seconds a container may take to be healthy; releases kept; the suffix of partial releases;
#   the command that starts the candidate (quoted for sh: podman run of the new version, detached).
set -eu
unit=$1 container=$2 standby=$3 candidate=$4 https_socket=$5 http_socket=$6 rotate_timer=$7
quadlet_dir=$8 user_unit_dir=$9 releases_dir=${10} user=${11}
quadlet_path=${12} quadlet_text=${13} standby_path=${14} standby_text=${15}
https_socket_path=${16} https_socket_text=${17} http_socket_path=${18} http_socket_text=${19}
rotate_service_path=${20} rotate_service_text=${21} rotate_timer_path=${22} rotate_timer_text=${23}
one_off_path=${24} one_off_text=${25}
error_log=${26} listen_fds_note=${27} healthy_within_s=${28} releases_kept=${29} partial=${30} candidate_run=${31}

active() { systemctl --user is-active --quiet "$1"; }
generated() {
  systemctl --user cat "$unit" >/dev/null 2>&1 || { echo "Quadlet generated no $unit:" >&2; /usr/libexec/podman/quadlet -dryrun -user >&2 || true; exit 1; }
}

mkdir -p "$quadlet_dir" "$user_unit_dir"
if active "$unit"; then
  echo "candidate: starting $candidate (the new version, no port) beside the running one"
  eval "$candidate_run" >/dev/null
  if ! healthy "$candidate" "$healthy_within_s" "$error_log"; then
    podman rm -f --ignore "$candidate" >/dev/null 2>&1 || true
    echo "deploy refused: the new version did not pass its health check; the running version keeps serving, untouched" >&2
    exit 1
  fi
  podman rm -f --ignore "$candidate" >/dev/null
else
  echo "candidate: skipped ($unit is not running: no version to protect)"
fi
# Nothing below runs before the new version proved itself. These files serve no traffic: written first,
# they are loaded by the next daemon-reload.
write_file "$rotate_service_path" 0644 "$rotate_service_text"
write_file "$rotate_timer_path" 0644 "$rotate_timer_text"
write_file "$one_off_path" 0750 "$one_off_text"
# is-active with several units succeeds when any one is active: each is asked alone.
if active "$https_socket" && active "$http_socket" && same "$https_socket_path" "$https_socket_text" && same "$http_socket_path" "$http_socket_text"; then
  sockets_ok=1
else
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
  systemctl --user enable --now "$https_socket" "$http_socket" 2>&1
  sockets_ok=0
fi
standby_note=""
if [ "$sockets_ok" = 1 ] && active "$unit"; then
  # Serving on our sockets: the standby of the new version takes them too before the unit restarts.
  write_file "$standby_path" 0644 "$standby_text"
  systemctl --user daemon-reload
  systemctl --user start "$standby.service"
  healthy "$standby" "$healthy_within_s" "$error_log" || { systemctl --user stop "$standby.service" || true; echo "deploy stopped: the standby did not become healthy; the running version keeps serving" >&2; exit 1; }
  # Healthy through its unix socket is not enough: without the public sockets the restart would be a gap.
  podman exec "$standby" test -s "$listen_fds_note" || { systemctl --user stop "$standby.service" || true; echo "deploy stopped: the standby did not receive the listening sockets from systemd; the running version keeps serving" >&2; exit 1; }
  echo "switch: $standby serves while $unit restarts on the new version"
  standby_note="; $standby keeps serving it"
fi
# The unit on the new version, checked; then a standby that served meanwhile (if any) ends.
write_file "$quadlet_path" 0644 "$quadlet_text"
systemctl --user daemon-reload
generated
systemctl --user restart "$unit"
healthy "$container" "$healthy_within_s" "$error_log" || { echo "deploy stopped: $unit did not become healthy on the new version$standby_note" >&2; exit 1; }
if active "$standby.service"; then systemctl --user stop "$standby.service"; fi
rm -f "$standby_path"
systemctl --user enable --now "$rotate_timer" 2>&1
# Started at boot even after an operator's `disable` (a drift repair re-runs this); no effect when they are.
systemctl --user enable "$https_socket" "$http_socket" 2>&1
prune_releases "$quadlet_path" "$releases_dir" "$user" "$partial" "$releases_kept"
echo "$unit serves the new version"
