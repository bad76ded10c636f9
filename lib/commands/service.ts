// Around the switch (lib/commands/deploy.ts): graceful reload, release command, health gate.
import { Layout } from "../layout";
import { BACKGROUND, Privilege, asRoot, asUser, asUserFromRoot, q, script } from "../shell";

/**
 * Graceful reload after a certificate change: SIGUSR2 reaches the container's supervisor, which reloads nginx
 * alone (new workers with the new certificate; the old ones finish their connections). A configuration change
 * is a new configuration version and so a switch instead (lib/commands/deploy.ts): a refused one leaves
 * nothing the running container or its next restart reads.
 */
export function reloadService(p: Privilege, l: Layout): string {
  return asUser(p, l.user, reloadScript(l));
}

/** Where nginx in the container writes its master's pid (config/nginx.conf.tmpl `pid`, the same in every version). */
const NGINX_PID_FILE = "/tmp/nginx.pid";

/** The body of reloadService, for the system user's shell. */
export function reloadScript(l: Layout): string {
  const c = q(l.containerName);
  return script(
    `if systemctl --user is-active --quiet ${q(l.unitName)}; then`,
    `  if podman exec ${c} grep -q SIGUSR2 /usr/local/bin/flagun-supervise 2>/dev/null; then`,
    `    podman kill --signal USR2 ${c} >/dev/null && echo "reloaded nginx in ${l.containerName} (SIGUSR2 to its supervisor)"`,
    "  else",
    // A container started by a version whose supervisor predates SIGUSR2 (the first `up` after an upgrade):
    // USR2 would kill it, and its SIGHUP also replaces every gunicorn worker at once (requests wait for the
    // app's import: the upgrade e2e lost one that way). nginx's master gets SIGHUP directly instead.
    `    podman exec ${c} sh -c ${q(`kill -HUP "$(cat ${NGINX_PID_FILE})"`)} && echo "reloaded nginx in ${l.containerName} (SIGHUP to its master)"`,
    "  fi",
    "else",
    '  echo "not running yet: nothing to reload"',
    "fi",
  );
}

/** Written in the data directory once the init command ran (or found data there): it never runs again. */
export const INIT_DONE = ".flagun-init-done";

/**
 * The release command: `run` (a one-off `podman run` of the new version, see podman.containerRun) with `argv`,
 * before the new version serves. Its output is the resource's; a failure fails `up` before the unit or the
 * reload, so the running version keeps serving. `initArgv` runs first, the same way, only while the data was
 * never initialised: no INIT_DONE marker and an empty instance folder (a site that already holds data, e.g.
 * one that had no init command before, is marked as initialised instead: an init-db drops tables).
 */
export function releaseCommand(p: Privilege, l: Layout, run: string, argv: string[], initArgv: string[] = []): string {
  return asUser(p, l.user, releaseScript(l, run, argv, initArgv));
}

/** The body of releaseCommand, for the system user's shell. */
export function releaseScript(l: Layout, run: string, argv: string[], initArgv: string[]): string {
  const marker = q(`${l.dataDir}/${INIT_DONE}`);
  const instance = q(l.instanceDir);
  const init = initArgv.length
    ? [
        `if [ -e ${marker} ]; then`,
        `  echo "init command: skipped (${l.dataDir} was initialised before)"`,
        `elif [ -n "$(ls -A ${instance})" ]; then`,
        `  echo "init command: skipped (${l.instanceDir} already holds data)"; : > ${marker}`,
        "else",
        `  echo "init command: ${initArgv.join(" ")}"`,
        `  ${BACKGROUND} ${run} ${initArgv.map(q).join(" ")} 2>&1 || { s=$?; echo "init command failed (exit $s): the running version was left as it was; the next up runs it again only while ${l.instanceDir} is empty" >&2; exit $s; }`,
        `  : > ${marker}`,
        "fi",
      ]
    : [];
  const release = argv.length
    ? [
        `echo "release command: ${argv.join(" ")}"`,
        `${BACKGROUND} ${run} ${argv.map(q).join(" ")} 2>&1 || { s=$?; echo "release command failed (exit $s): the running version was left as it was" >&2; exit $s; }`,
      ]
    : [];
  return script(...init, ...release);
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
