// Where things live on a host, derived from config in one place so builders and components agree.
import { SiteConfig } from "./config";
import { short } from "./hash";

export interface Layout {
  user: string;
  /** Our mark on this host: the user's GECOS text and the content of the marker file of each directory we create. */
  mark: string;
  home: string;
  /** One directory per app version (`<releasesDir>/<content hash>`), never changed once complete: a unit
   * mounts exactly one, so a deploy never edits the code a running container serves. */
  releasesDir: string;
  releaseDir: (appHash: string) => string;
  /** Holds tlsDir. */
  configDir: string;
  /** One directory per configuration version (`<configsDir>/<content hash>`: nginx, gunicorn, logrotate and
   * app settings), never changed once complete: a unit mounts exactly one, so a deploy (even a refused one)
   * never edits what a running container or its next restart reads. */
  configsDir: string;
  configVersionDir: (configHash: string) => string;
  tlsDir: string;
  logDir: string;
  /** Persistent app data, outside the synced code and the home; kept or deleted by destroy (retainData). */
  dataDir: string;
  /** Flask's instance folder on the host: mounted read-write over the app mount's `instance/`. */
  instanceDir: string;
  /** Host script that runs a command in a fresh container of the current version (operators, releases). */
  oneOffScript: string;
  /**
   * Admin-owned upload area for CopyToRemote, cleared after each install. Under STAGE_ROOT, a root-owned
   * directory in /var/lib: only root and the admin user control its whole path (unlike /var/tmp, where
   * any local user could create the directory first and swap uploads before they are installed).
   */
  stageDir: string;
  /** The versions the switches left on the host, newest first (deploy-fns.sh record_version), in the home. */
  versionsFile: string;
  /** Quadlet and systemd user unit directories, inside the system user's home. */
  quadletDir: string;
  userUnitDir: string;
  unitName: string;
  containerName: string;
  /** The new version's throw-away container, health-checked before anything is switched. */
  candidateName: string;
  /** The unit that holds the sockets while the main unit restarts (Quadlet, started only during a switch). */
  standbyName: string;
  /** User socket units owning the public ports (nginx inherits them): they outlive every container. */
  socketUnits: { https: string; http: string };
  /** The Podman secret holding the Flask SECRET_KEY, without its version (secretVersionName). */
  secretName: string;
  /** The Podman secret holding one appSecrets value, without its version. */
  envSecretName: (name: string) => string;
  /** Every Podman secret name of the site, with or without its version (sh/deploy-fns.sh prune_secrets; ERE). */
  secretNamesRe: string;
  image: string;
}

/** A secret's Podman name at one version of its value (hash.secretVersion): a rotation creates a new one beside the live one. */
export function secretVersionName(base: string, version: string): string {
  return `${base}-${version}`;
}

/** Parent of every site's upload area on a host; removed by `destroy` once no site uses it. */
export const STAGE_ROOT = "/var/lib/flagun-rosupod";

/** The files in the tls directory (nginx.conf.tmpl names them; each one a drift repair kind, lib/drift.ts). */
export const TLS_FILES = { cert: "cert.pem", key: "key.pem" };

/** This program's name on a host: every site's mark starts with it; refusals and ownership's log lines name it. */
export const USER_MARKER = "flagun-rosupod";

/** The mark of one site on a host: the GECOS text of its user and the content of its marker files. */
export function markOf(serviceName: string): string {
  return `${USER_MARKER} ${serviceName}`;
}

export function layoutOf(c: SiteConfig): Layout {
  return {
    user: c.systemUser,
    mark: markOf(c.serviceName),
    home: c.homeDir,
    releasesDir: `${c.installPath}/releases`,
    releaseDir: (appHash) => `${c.installPath}/releases/${short(appHash)}`,
    configDir: `${c.installPath}/config`,
    configsDir: `${c.installPath}/configs`,
    configVersionDir: (configHash) => `${c.installPath}/configs/${short(configHash)}`,
    tlsDir: `${c.installPath}/config/tls`,
    logDir: c.logPath,
    dataDir: c.dataPath,
    instanceDir: `${c.dataPath}/instance`,
    oneOffScript: `${c.installPath}/one-off`,
    stageDir: `${STAGE_ROOT}/${c.serviceName}`,
    versionsFile: `${c.homeDir}/.local/state/flagun-rosupod/versions`,
    quadletDir: `${c.homeDir}/.config/containers/systemd`,
    userUnitDir: `${c.homeDir}/.config/systemd/user`,
    unitName: `${c.serviceName}.service`,
    containerName: c.serviceName,
    candidateName: `${c.serviceName}-candidate`,
    standbyName: `${c.serviceName}-standby`,
    socketUnits: { https: `${c.serviceName}-https.socket`, http: `${c.serviceName}-http.socket` },
    secretName: `${c.serviceName}-secret-key`,
    envSecretName: (name) => `${c.serviceName}-env-${name}`,
    secretNamesRe: `^${c.serviceName}-(secret-key|env-[A-Z_][A-Z0-9_]*)(-[0-9a-f]{12})?$`,
    image: `localhost/${c.imageName}`,
  };
}
