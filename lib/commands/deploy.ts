// The switch to a new version (image, app code, unit, settings, secrets): the new version proves itself before
// anything the running one reads changes, then takes over the sockets without refusing a connection.
//
//   1. check = standby: when the site serves on its socket units, a second unit of the new version starts on the
//      same sockets (no [Install], no restart). Its nginx starts only once its app answers, so a broken version
//      never takes a connection; not healthy within HEALTHY_WITHIN_S -> it is stopped and its file removed, and
//      `up` fails with its logs: nothing a restart or reboot would start has changed.
//   2. switch: the healthy standby serves (nginx in both accepts from one kernel queue) while the main unit
//      restarts on the new version and is checked; then the standby stops gracefully (nginx QUIT: requests in
//      flight finish). One container start for the check and the switch together.
// When the socket units are missing or changed (an upgrade from a unit that published its own ports, new
// ports), the new version is checked in a candidate (a throw-away container of it: same image, mounts, env,
// secrets; no port), then the old unit stops, the sockets are (re)created and the unit starts on them: the one
// switch with a gap. When the unit does not run at all (first install, stopped, failing), there is no version
// to protect: no check, the unit starts on the new version and its health check reports.
import { SiteConfig } from "../config";
import { Layout } from "../layout";
import { LISTEN_FDS_NOTE, UnitInputs, logrotateService, logrotateTimer, quadletUnit, socketUnit } from "../render";
import { PARTIAL } from "./files";
import { oneOffScript } from "./podman";
import { hostScript } from "./hostScript";
import { BACKGROUND, Privilege, asUser, q, script } from "../shell";

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
    oneOff: oneOffScript(c, l, u.imageRef, u),
  };
}

/**
 * How long a new container may take to answer its health check (image start, app import, first request): the
 * unit's TimeoutStartSec. A version that fails (an import error) is refused as soon as its container exits; this
 * bounds only one that runs without answering. Every change of configuration is a switch, so this is also
 * what a slow app gets beside a loaded running one: a Flask-SQLAlchemy app's 5 workers on 2 emulated CPUs
 * under load passed 120 s.
 */
export const HEALTHY_WITHIN_S = 300;

/** Release and configuration directories and images kept on the host besides the ones serving: redeploying one reuses it. */
export const VERSIONS_KEPT = 3;

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
 * Install the unit files and switch to them (see the file comment), as the system user. `candidateRun`
 * starts the candidate (podman.containerRun of the new version, detached, named Layout.candidateName).
 */
export function deployUnit(p: Privilege, l: Layout, f: UnitFiles, candidateRun: string): string {
  return asUser(p, l.user, deployScript(l, f, candidateRun));
}

/** The body of deployUnit, for the system user's shell: sh/deploy.sh after its functions, with its arguments. */
export function deployScript(l: Layout, f: UnitFiles, candidateRun: string): string {
  const paths = unitPaths(l);
  return hostScript(
    ["deploy-fns", "deploy"],
    [
      l.unitName,
      l.containerName,
      l.standbyName,
      l.candidateName,
      l.socketUnits.https,
      l.socketUnits.http,
      `${l.containerName}-logrotate.timer`,
      l.quadletDir,
      l.userUnitDir,
      l.releasesDir,
      l.configsDir,
      l.user,
      paths.quadlet,
      f.quadlet,
      paths.standby,
      f.standby,
      paths.httpsSocket,
      f.httpsSocket,
      paths.httpSocket,
      f.httpSocket,
      paths.rotateService,
      f.logrotateService,
      paths.rotateTimer,
      f.logrotateTimer,
      l.oneOffScript,
      f.oneOff,
      `${l.logDir}/gunicorn/error.log`,
      LISTEN_FDS_NOTE,
      HEALTHY_WITHIN_S,
      VERSIONS_KEPT,
      PARTIAL,
      l.secretNamesRe,
      l.image,
      l.versionsFile,
      `${BACKGROUND} ${candidateRun}`,
    ],
  );
}

/** A version on the host after a switch (deploy-fns.sh record_version): redeploying it reuses its directories and image. */
export interface RetainedVersion {
  /** When it became the live version (UTC, ISO 8601). */
  since: string;
  /** Its release (app code) and configuration directories' names (content hashes). */
  app: string;
  config: string;
  image: string;
}

/** The versions deployUnit printed, newest (the live one) first. */
export function parseVersions(stdout: string): RetainedVersion[] {
  return stdout
    .split("\n")
    .map((line) => line.trim().split(" "))
    .filter((w) => w[0] === "version" && w.length === 5)
    .map(([, since, app, config, image]) => ({ since, app, config, image }));
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
