// The Quadlet unit and its logrotate timer: install and start, graceful reload, health gate, removal.
import { Layout } from "../layout";
import { Privilege, asRoot, asUser, asUserFromRoot, q, script, writeFile } from "../shell";

export interface UnitFiles {
  quadlet: string;
  logrotateService: string;
  logrotateTimer: string;
  /** The operators' one-off command (Layout.oneOffScript), for the same image as the unit. */
  oneOff: string;
}

function unitPaths(l: Layout) {
  return {
    quadlet: `${l.quadletDir}/${l.containerName}.container`,
    rotateService: `${l.userUnitDir}/${l.containerName}-logrotate.service`,
    rotateTimer: `${l.userUnitDir}/${l.containerName}-logrotate.timer`,
  };
}

/**
 * Write the unit files, let Quadlet generate the service and (re)start it. Restart, not reload: this
 * runs only when a unit file changed (new image, new secret, new ports), and those need a new container.
 */
export function installUnit(p: Privilege, l: Layout, f: UnitFiles): string {
  const paths = unitPaths(l);
  return asUser(
    p,
    l.user,
    script(
      `mkdir -p ${q(l.quadletDir)} ${q(l.userUnitDir)}`,
      writeFile(paths.quadlet, f.quadlet, "0644"),
      writeFile(paths.rotateService, f.logrotateService, "0644"),
      writeFile(paths.rotateTimer, f.logrotateTimer, "0644"),
      writeFile(l.oneOffScript, f.oneOff, "0750"),
      "systemctl --user daemon-reload",
      `systemctl --user cat ${q(l.unitName)} >/dev/null 2>&1 || { echo "Quadlet generated no ${l.unitName}:" >&2; /usr/libexec/podman/quadlet -dryrun -user >&2 || true; exit 1; }`,
      `systemctl --user restart ${q(l.unitName)}`,
      `systemctl --user enable --now ${q(`${l.containerName}-logrotate.timer`)} 2>&1`,
      `echo "${l.unitName} started"`,
    ),
  );
}

export function removeUnit(p: Privilege, l: Layout): string {
  const paths = unitPaths(l);
  return asUser(
    p,
    l.user,
    script(
      `systemctl --user disable --now ${q(`${l.containerName}-logrotate.timer`)} 2>/dev/null || true`,
      `systemctl --user stop ${q(l.unitName)} 2>/dev/null || true`,
      `rm -f ${q(paths.quadlet)} ${q(paths.rotateService)} ${q(paths.rotateTimer)} ${q(l.oneOffScript)}`,
      "systemctl --user daemon-reload",
      `podman rm -f --ignore ${q(l.containerName)} >/dev/null`,
      `echo "${l.unitName} removed"`,
    ),
  );
}

/**
 * Graceful reload after app code, config or certificate changes: SIGHUP reaches the container's
 * supervisor, which reloads gunicorn (new workers, new code) and nginx (new config and certificate).
 */
export function reloadService(p: Privilege, l: Layout): string {
  return asUser(
    p,
    l.user,
    script(
      `if systemctl --user is-active --quiet ${q(l.unitName)}; then`,
      `  podman kill --signal HUP ${q(l.containerName)} >/dev/null && echo "reloaded ${l.containerName}"`,
      "else",
      '  echo "not running yet: nothing to reload"',
      "fi",
    ),
  );
}

/**
 * The release command: `run` (a one-off `podman run` of the new image, see render.oneOffRun) with `argv`,
 * before the new version serves. Its output is the resource's; a failure fails `up` before the unit or the
 * reload, so the running version keeps serving.
 */
export function releaseCommand(p: Privilege, l: Layout, run: string, argv: string[]): string {
  return asUser(
    p,
    l.user,
    script(
      `echo "release command: ${argv.join(" ")}"`,
      `${run} ${argv.map(q).join(" ")} 2>&1 || { s=$?; echo "release command failed (exit $s): the running version was left as it was" >&2; exit $s; }`,
    ),
  );
}

/**
 * `pulumi up` ends only when https on the host answers the health path (any status below 500, as nginx
 * gives 502/503 while gunicorn is down). On failure the error carries the unit's status and its last log lines.
 */
export function healthGate(p: Privilege, l: Layout, httpsPort: number, healthPath: string, timeoutSeconds = 180): string {
  const url = `https://127.0.0.1:${httpsPort}${healthPath}`;
  return asRoot(
    p,
    script(
      "i=0; code=000",
      `while [ $i -lt ${timeoutSeconds} ]; do`,
      `  code=$(curl -ks -o /dev/null -w '%{http_code}' --max-time 5 ${q(url)} || true)`,
      '  case "$code" in [1-4][0-9][0-9]) echo "healthy after ${i} s (HTTP $code)"; exit 0;; esac',
      "  sleep 2; i=$((i+2))",
      "done",
      `echo "health gate: ${url} did not answer below 500 within ${timeoutSeconds} s (last HTTP $code)" >&2`,
      `${asUserFromRoot(l.user, `systemctl --user status --no-pager -l ${q(l.unitName)}`)} >&2 || true`,
      `journalctl --no-pager -n 40 _SYSTEMD_USER_UNIT=${q(l.unitName)} >&2 || true`,
      "exit 1",
    ),
  );
}
