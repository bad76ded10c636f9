// Where things live on a host, derived from config in one place so builders and components agree.
import { SiteConfig } from "./config";
import { markOf } from "./commands/ownership";

export interface Layout {
  user: string;
  /** Our mark on this host: the user's GECOS text and the content of the marker file of each directory we create. */
  mark: string;
  home: string;
  appDir: string;
  configDir: string;
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
  /** Quadlet and systemd user unit directories, inside the system user's home. */
  quadletDir: string;
  userUnitDir: string;
  unitName: string;
  containerName: string;
  secretName: string;
  /** The Podman secret holding one appSecrets value. */
  envSecretName: (name: string) => string;
  image: string;
}

/** Parent of every site's upload area on a host; removed by `destroy` once no site uses it. */
export const STAGE_ROOT = "/var/lib/flagun-rosupod";

export function layoutOf(c: SiteConfig): Layout {
  return {
    user: c.systemUser,
    mark: markOf(c.serviceName),
    home: c.homeDir,
    appDir: `${c.installPath}/app`,
    configDir: `${c.installPath}/config`,
    tlsDir: `${c.installPath}/config/tls`,
    logDir: c.logPath,
    dataDir: c.dataPath,
    instanceDir: `${c.dataPath}/instance`,
    oneOffScript: `${c.installPath}/one-off`,
    stageDir: `${STAGE_ROOT}/${c.serviceName}`,
    quadletDir: `${c.homeDir}/.config/containers/systemd`,
    userUnitDir: `${c.homeDir}/.config/systemd/user`,
    unitName: `${c.serviceName}.service`,
    containerName: c.serviceName,
    secretName: `${c.serviceName}-secret-key`,
    envSecretName: (name) => `${c.serviceName}-env-${name}`,
    image: `localhost/${c.imageName}`,
  };
}
