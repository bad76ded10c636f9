// Where things live on a host, derived from config in one place so builders and components agree.
import { SiteConfig } from "./config";

export interface Layout {
  user: string;
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
  /** Admin-owned upload area for CopyToRemote; cleared after each install. */
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

export function layoutOf(c: SiteConfig): Layout {
  return {
    user: c.systemUser,
    home: c.homeDir,
    appDir: `${c.installPath}/app`,
    configDir: `${c.installPath}/config`,
    tlsDir: `${c.installPath}/config/tls`,
    logDir: c.logPath,
    dataDir: c.dataPath,
    instanceDir: `${c.dataPath}/instance`,
    oneOffScript: `${c.installPath}/one-off`,
    stageDir: `/var/tmp/flagun-rosupod/${c.serviceName}`,
    quadletDir: `${c.homeDir}/.config/containers/systemd`,
    userUnitDir: `${c.homeDir}/.config/systemd/user`,
    unitName: `${c.serviceName}.service`,
    containerName: c.serviceName,
    secretName: `${c.serviceName}-secret-key`,
    envSecretName: (name) => `${c.serviceName}-env-${name}`,
    image: `localhost/${c.imageName}`,
  };
}
