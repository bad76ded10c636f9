// The switch to a new version (image, app code, unit, settings, secrets): the new version proves itself in a
// candidate container before anything changes, then takes over the sockets without refusing a connection.
//
//   1. candidate: a throw-away container of the new version (same image, mounts, env, secrets; no port), its
//      health checked through nginx; not healthy -> `up` fails with its logs, nothing else was touched.
//   2. standby: when the site is already serving on its socket units, a second unit of the new version takes
//      the same sockets (nginx in both accepts from one kernel queue) ...
//   3. ... the main unit restarts on the new version while the standby serves, is checked, and the standby
//      stops gracefully (nginx QUIT: requests in flight finish).
// When the socket units are missing or changed (first install, an upgrade from a unit that published its own
// ports, new ports), the old unit stops, the sockets are (re)created and the unit starts on them: the one
// switch with a gap. When the unit does not run at all (first install, stopped, failing), there is no
// version to protect: no candidate, the unit starts on the new version and its health check reports.
import { SiteConfig } from "../config";
import { Layout } from "../layout";
import { LISTEN_FDS_NOTE, UnitInputs, logrotateService, logrotateTimer, quadletUnit, socketUnit } from "../render";
import { PARTIAL } from "./files";
import { oneOffScript } from "./podman";
import { BACKGROUND, Privilege, asUser, q, script, writeFile } from "../shell";

export interface UnitFiles {
  quadlet: string;
  /** The same container under the standby's name, without [Install] (render.quadletUnit role "standby"). */
  standby: string;
  httpsSocket: string;
  httpSocket: string;
  logrotateService: string;
  logrotateTimer: string;
  /** The operators' one-off command (Layout.oneOffScript), for the same version as the unit. */
  oneOff: string;
}

/** Every unit file of a version of the site, as deployUnit installs them. */
export function unitFiles(c: SiteConfig, l: Layout, u: UnitInputs): UnitFiles {
  return {
    quadlet: quadletUnit(c, l, u),
    standby: quadletUnit(c, l, u, "standby"),
    httpsSocket: socketUnit(c, l, "https"),
    httpSocket: socketUnit(c, l, "http"),
    logrotateService: logrotateService(l),
    logrotateTimer: logrotateTimer(l),
    oneOff: oneOffScript(c, l, u.imageRef, u.appHash),
  };
}

/** How long a new container may take to answer its health check (image start, app import, first request). */
export const HEALTHY_WITHIN_S = 120;

/** Releases kept on the host: the one serving and the ones before it (rollback by redeploying them is instant). */
export const RELEASES_KEPT = 3;

export function unitPaths(l: Layout) {
  return {
    quadlet: `${l.quadletDir}/${l.containerName}.container`,
    standby: `${l.quadletDir}/${l.standbyName}.container`,
    httpsSocket: `${l.userUnitDir}/${l.socketUnits.https}`,
    httpSocket: `${l.userUnitDir}/${l.socketUnits.http}`,
    rotateService: `${l.userUnitDir}/${l.containerName}-logrotate.service`,
    rotateTimer: `${l.userUnitDir}/${l.containerName}-logrotate.timer`,
  };
}

/**
 * Shell functions of the switch. `healthy NAME`: polls flagun-health inside container NAME until it passes
 * (prints the seconds) or the container stops running or HEALTHY_WITHIN_S pass; then prints its state and
 * last log lines (podman's and gunicorn's error log, where an import error lands) to stderr and fails.
 */
export function switchFns(l: Layout): string[] {
  return [
    "healthy() {",
    "  t0=$(date +%s)",
    "  while :; do",
    "    i=$(( $(date +%s) - t0 ))",
    '    if podman exec "$1" flagun-health >/dev/null 2>&1; then echo "$1 healthy after ${i} s"; return 0; fi',
    '    state=$(podman inspect --format "{{.State.Status}} (exit code {{.State.ExitCode}})" "$1" 2>/dev/null || echo "gone")',
    `    case "$state" in running*) [ $i -lt ${HEALTHY_WITHIN_S} ] && { sleep 1; continue; };; esac`,
    '    echo "$1 did not become healthy: state $state after ${i} s. Its last log lines:" >&2',
    '    podman logs --tail 30 "$1" 2>&1 | redact >&2 || true',
    `    echo "--- ${l.logDir}/gunicorn/error.log (last lines):" >&2`,
    `    excerpt ${q(`${l.logDir}/gunicorn/error.log`)} >&2 || true`,
    "    return 1",
    "  done",
    "}",
    // `excerpt FILE`: FILE's last 30 lines (of its last 64 KiB, within 5 s), only when it is a regular file of
    // this user with one link, checked on the open descriptor against the path: the app writes this directory
    // and can put a symlink or hard link to a secret (tls/key.pem) or a FIFO there.
    "excerpt() {",
    '  out=$(timeout 5 sh -c \'exec 3<"$1" || exit 1',
    '    [ "$(stat -L -c "%d:%i:%h:%u:%F" /proc/self/fd/3)" = "$(stat -c "%d:%i" -- "$1"):1:$(id -u):regular file" ] || { echo "(not shown: $1 is not a regular file of $(id -un) with one link)"; exit 0; }',
    '    tail -c 65536 <&3 | tail -n 30\' sh "$1") || out="(not shown: $1 could not be opened and read within 5 s)"',
    '  printf "%s\\n" "$out" | redact',
    "}",
    // Private keys never reach `up`'s output, whichever log they were written to ([ ]: nor does this pattern's text).
    "redact() { sed '/-----BEGIN [A-Z ]*PRIVATE[ ]KEY-----/,/-----END [A-Z ]*PRIVATE[ ]KEY-----/c\\(private key redacted)'; }",
    // `same FILE TEXT`: the file already holds exactly TEXT.
    "same() { [ -f \"$1\" ] && printf '%s' \"$2\" | cmp -s - \"$1\"; }",
  ];
}

/** The candidate: `run` is podman.containerRun(…, "-d --replace --name <candidate>") of the new version. */
export function candidateCheck(l: Layout, run: string): string[] {
  const c = q(l.candidateName);
  return [
    `echo "candidate: starting ${l.candidateName} (the new version, no port) beside the running one"`,
    `${BACKGROUND} ${run} >/dev/null`,
    `if ! healthy ${c}; then`,
    `  podman rm -f --ignore ${c} >/dev/null 2>&1 || true`,
    `  echo "deploy refused: the new version did not pass its health check; the running version keeps serving, untouched" >&2`,
    "  exit 1",
    "fi",
    `podman rm -f --ignore ${c} >/dev/null`,
  ];
}

/**
 * Install the unit files and switch to them (see the file comment), as the system user. `candidateRun`
 * starts the candidate (podman.containerRun of the new version, detached, named Layout.candidateName).
 */
export function deployUnit(p: Privilege, l: Layout, f: UnitFiles, candidateRun: string): string {
  return asUser(p, l.user, deployScript(l, f, candidateRun));
}

/** The body of deployUnit, for the system user's shell. */
export function deployScript(l: Layout, f: UnitFiles, candidateRun: string): string {
  const paths = unitPaths(l);
  const unit = q(l.unitName);
  const sockets = `${q(l.socketUnits.https)} ${q(l.socketUnits.http)}`;
  const standbyUnit = q(`${l.standbyName}.service`);
  const active = (u: string) => `systemctl --user is-active --quiet ${q(u)}`;
  const generated = `systemctl --user cat ${unit} >/dev/null 2>&1 || { echo "Quadlet generated no ${l.unitName}:" >&2; /usr/libexec/podman/quadlet -dryrun -user >&2 || true; exit 1; }`;
  // The unit on the new version, checked; `stopStandby` ends a standby that served meanwhile (if any).
  const restartUnit = [
    writeFile(paths.quadlet, f.quadlet, "0644"),
    "systemctl --user daemon-reload",
    generated,
    `systemctl --user restart ${unit}`,
    `healthy ${q(l.containerName)} || { echo "deploy stopped: ${l.unitName} did not become healthy on the new version$standby_note" >&2; exit 1; }`,
    `if ${active(`${l.standbyName}.service`)}; then systemctl --user stop ${standbyUnit}; fi`,
    `rm -f ${q(paths.standby)}`,
  ];
  return script(
    ...switchFns(l),
    `mkdir -p ${q(l.quadletDir)} ${q(l.userUnitDir)}`,
    `if ${active(l.unitName)}; then`,
    ...candidateCheck(l, candidateRun).map((x) => `  ${x}`),
    "else",
    `  echo "candidate: skipped (${l.unitName} is not running: no version to protect)"`,
    "fi",
    // Nothing below runs before the new version proved itself. These files serve no traffic: written first,
    // they are loaded by the next daemon-reload.
    writeFile(paths.rotateService, f.logrotateService, "0644"),
    writeFile(paths.rotateTimer, f.logrotateTimer, "0644"),
    writeFile(l.oneOffScript, f.oneOff, "0750"),
    // is-active with several units succeeds when any one is active: each is asked alone.
    `if ${active(l.socketUnits.https)} && ${active(l.socketUnits.http)} && same ${q(paths.httpsSocket)} ${q(f.httpsSocket)} && same ${q(paths.httpSocket)} ${q(f.httpSocket)}; then`,
    "  sockets_ok=1",
    "else",
    // First install, a unit that published its ports itself, or new ports: the unit must let go of the
    // old ports before the socket units can bind the new ones (the only switch with a gap).
    `  echo "switch: (re)creating the socket units; ${l.unitName} starts on them"`,
    `  systemctl --user stop ${standbyUnit} ${unit} 2>/dev/null || true`,
    `  ${writeFile(paths.httpsSocket, f.httpsSocket, "0644")}`,
    `  ${writeFile(paths.httpSocket, f.httpSocket, "0644")}`,
    // A socket unit refuses to start while the service it activates is not loaded: the unit file first.
    `  ${writeFile(paths.quadlet, f.quadlet, "0644")}`,
    "  systemctl --user daemon-reload",
    `  ${generated}`,
    `  systemctl --user stop ${sockets} 2>/dev/null || true`,
    `  systemctl --user enable --now ${sockets} 2>&1`,
    "  sockets_ok=0",
    "fi",
    `standby_note=""`,
    `if [ "$sockets_ok" = 1 ] && ${active(l.unitName)}; then`,
    // Serving on our sockets: the standby of the new version takes them too before the unit restarts.
    `  ${writeFile(paths.standby, f.standby, "0644")}`,
    "  systemctl --user daemon-reload",
    `  systemctl --user start ${standbyUnit}`,
    `  healthy ${q(l.standbyName)} || { systemctl --user stop ${standbyUnit} || true; echo "deploy stopped: the standby did not become healthy; the running version keeps serving" >&2; exit 1; }`,
    // Healthy through its unix socket is not enough: without the public sockets the restart would be a gap.
    `  podman exec ${q(l.standbyName)} test -s ${LISTEN_FDS_NOTE} || { systemctl --user stop ${standbyUnit} || true; echo "deploy stopped: the standby did not receive the listening sockets from systemd; the running version keeps serving" >&2; exit 1; }`,
    `  echo "switch: ${l.standbyName} serves while ${l.unitName} restarts on the new version"`,
    `  standby_note="; ${l.standbyName} keeps serving it"`,
    "fi",
    ...restartUnit,
    `systemctl --user enable --now ${q(`${l.containerName}-logrotate.timer`)} 2>&1`,
    // Started at boot even after an operator's `disable` (a drift repair re-runs this); no effect when they are.
    `systemctl --user enable ${sockets} 2>&1`,
    pruneReleases(l),
    `echo "${l.unitName} serves the new version"`,
  );
}

/**
 * Delete release directories beyond the RELEASES_KEPT newest, never the one the unit mounts, and the user's
 * leftovers of interrupted installs (files.installRelease). As the user: one it cannot delete (a root-owned
 * leftover of an older version, which the next release install removes) is named, not a failure.
 */
export function pruneReleases(l: Layout): string {
  const unitFile = q(`${l.quadletDir}/${l.containerName}.container`);
  const dir = q(l.releasesDir);
  const remove = `rm -rf ${dir}/"$r" 2>/dev/null || echo "left ${l.releasesDir}/$r: not removable by ${l.user} (owner $(stat -c %U ${dir}/"$r"))"`;
  return [
    `current=$(sed -n 's#^Volume=${l.releasesDir}/\\([0-9a-f]*\\):.*#\\1#p' ${unitFile})`,
    `ls -1A ${dir} | grep -F ${PARTIAL} | while read -r r; do ${remove}; done`,
    `ls -1t ${dir} | grep -vF ${PARTIAL} | tail -n +${RELEASES_KEPT + 1} | while read -r r; do [ "$r" = "$current" ] || ${remove}; done`,
  ].join("\n");
}

export function removeUnit(p: Privilege, l: Layout): string {
  const paths = unitPaths(l);
  const sockets = `${q(l.socketUnits.https)} ${q(l.socketUnits.http)}`;
  return asUser(
    p,
    l.user,
    script(
      `systemctl --user disable --now ${q(`${l.containerName}-logrotate.timer`)} 2>/dev/null || true`,
      `systemctl --user stop ${q(`${l.standbyName}.service`)} ${q(l.unitName)} 2>/dev/null || true`,
      `systemctl --user disable --now ${sockets} 2>/dev/null || true`,
      `rm -f ${Object.values(paths).map(q).join(" ")} ${q(l.oneOffScript)}`,
      "systemctl --user daemon-reload",
      `podman rm -f --ignore ${q(l.containerName)} ${q(l.standbyName)} ${q(l.candidateName)} >/dev/null`,
      `echo "${l.unitName} removed"`,
    ),
  );
}
