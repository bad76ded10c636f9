// Pure text rendering: the config templates shipped in config/, the Quadlet unit and the logrotate timer.
import { SiteConfig, listenPort } from "./config";
import { Layout } from "./layout";

/** Replace every {{KEY}}; a placeholder without a value is an error, not an empty string. */
export function renderTemplate(name: string, text: string, values: Record<string, string | number>): string {
  const out = text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new Error(`template ${name}: no value for ${m}`);
    return String(values[key]);
  });
  return out;
}

export function templateValues(c: SiteConfig, serverNames: string[]): Record<string, string | number> {
  return {
    HTTPS_PORT: c.httpsPort,
    HTTP_PORT: c.httpPort,
    HTTPS_LISTEN_PORT: listenPort(c.httpsPort),
    HTTP_LISTEN_PORT: listenPort(c.httpPort),
    PROXY_HOPS: c.trustedProxies + 1,
    MAX_CONTENT_LENGTH: sizeBytes(c.clientMaxBodySize),
    HEALTH_SOCKET: HEALTH_SOCKET,
    SERVER_NAMES: serverNames.length > 0 ? serverNames.join(" ") : "_",
    WORKERS: c.workers,
    THREADS: c.threads,
    TIMEOUT: c.timeoutSeconds,
    LOG_RETENTION_DAYS: c.logRetentionDays,
    CLIENT_MAX_BODY_SIZE: c.clientMaxBodySize,
  };
}

/** An nginx size (`10m`, `512k`, `1048576`) in bytes: Flask's MAX_CONTENT_LENGTH for the same limit. */
export function sizeBytes(size: string): number {
  const unit = size.slice(-1);
  const factor = unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1;
  return parseInt(size, 10) * factor;
}

/**
 * nginx's https server also listens on this unix socket inside the container: the health checks (image
 * HEALTHCHECK, candidate, standby) reach nginx -> gunicorn -> app through it, whether the public ports are
 * systemd's inherited sockets (the service) or bound in the container's own network (a candidate).
 */
export const HEALTH_SOCKET = "/tmp/flagun-https.sock";

/**
 * Written by flagun-supervise inside the container when systemd passed it the listening sockets (it holds
 * the descriptors it gave nginx): the switch checks that the standby really holds the public ports before
 * the unit restarts. Its health check alone could not tell, as it goes through HEALTH_SOCKET.
 */
export const LISTEN_FDS_NOTE = "/tmp/flagun-listen-fds";

/** The uid/gid the image's processes run as; the unit maps it to the system user (UserNS=keep-id). */
export const CONTAINER_UID = 1000;

/** Where things are inside the container (fixed by the image). */
export const APP_MOUNT = "/srv/app";
/** Flask's instance folder for an app module or package at the app root (Flask's own default). */
export const INSTANCE_MOUNT = `${APP_MOUNT}/instance`;
/** The Flask SECRET_KEY's file (SECRET_KEY_FILE names it to the app). */
export const APP_SECRET_KEY_FILE = "/run/secrets/app_secret_key";
/** One file per appSecrets entry; flagun-supervise exports each as an environment variable. */
export const ENV_SECRETS_DIR = "/run/secrets/env";
/** The config directory inside the container. */
export const CONFIG_MOUNT = "/etc/flagun";
/** The app settings (module, health path, appEnv) inside the container, in CONFIG_MOUNT. */
export const APP_SETTINGS_FILE = "app.json";

/** The unit mounts the version's release and configuration directories (ContainerVersion). */
export interface UnitInputs extends ContainerVersion {
  imageRef: string;
}

/** Where the certificate and key are inside the container (nginx.conf.tmpl names them). */
export const TLS_MOUNT = `${CONFIG_MOUNT}/tls`;
export const USERNS = `keep-id:uid=${CONTAINER_UID},gid=${CONTAINER_UID}`;
export const USER = `${CONTAINER_UID}:${CONTAINER_UID}`;

/**
 * What every container of the site gets, the service's and the one-off ones alike: mounts (the code
 * read-only, the instance folder read-write over it), secrets as files, and the hardening.
 */
/** What a container of the site runs: its code (lib/hash appHash), configuration (SiteFiles.configHash) and secrets. */
export interface ContainerVersion {
  appHash: string;
  configHash: string;
  secrets: SecretNames;
}

/** The Podman names (with their versions, layout.secretVersionName) of the secrets a version reads. */
export interface SecretNames {
  /** The Flask SECRET_KEY's. */
  key: string;
  /** appSecrets name -> its secret's. */
  env: Record<string, string>;
}

export function containerSpec(c: SiteConfig, l: Layout, v: ContainerVersion) {
  const owner = `uid=${CONTAINER_UID},gid=${CONTAINER_UID},mode=0400`;
  return {
    userns: USERNS,
    user: USER,
    // The version's code and configuration (each its own immutable directory), the certificate over the
    // configuration's empty tls/ (a renewal is a reload, not a new version), the data and the logs.
    volumes: [
      `${l.releaseDir(v.appHash)}:${APP_MOUNT}:ro,Z`,
      `${l.instanceDir}:${INSTANCE_MOUNT}:Z`,
      `${l.configVersionDir(v.configHash)}:${CONFIG_MOUNT}:ro,Z`,
      `${l.tlsDir}:${TLS_MOUNT}:ro,Z`,
      `${l.logDir}:/var/log/flagun:Z`,
    ],
    secrets: [
      `${v.secrets.key},type=mount,target=${APP_SECRET_KEY_FILE},${owner}`,
      ...c.appSecretNames.map((n) => `${v.secrets.env[n]},type=mount,target=${ENV_SECRETS_DIR}/${n},${owner}`),
    ],
    env: [`SECRET_KEY_FILE=${APP_SECRET_KEY_FILE}`],
  };
}

/** The app settings file flagun-supervise and flagun-health read (JSON: any text is safe in it). */
export function appSettings(c: SiteConfig): string {
  return `${JSON.stringify({ module: c.appModule, healthPath: c.healthPath, env: { FLASK_APP: c.appModule, ...c.appEnv } }, null, 2)}\n`;
}

/** How often the service may (re)start before systemd gives up on it (quadletUnit). */
export const START_LIMIT = { burst: 8, intervalS: 600 };

/**
 * The Quadlet unit. Quadlet replaces the runbook's deprecated `podman generate systemd`; the generated
 * service restarts on failure and is wanted by default.target, which linger starts at boot. It publishes no
 * port: the socket units own the public ports and hand them to nginx (socket activation), so connections
 * that arrive while the container restarts wait in the kernel's queue instead of being refused, traffic
 * skips the rootless port forwarder, and nginx sees the client's address. The network (pasta) stays for
 * the app's outbound traffic. `role` "standby" renders the new version's check, which then holds the same
 * sockets while the unit restarts (deploy.ts): another container name; no [Install] (it never starts at boot);
 * no restart (a version that fails is refused, never retried); nginx only once the app answers
 * (FLAGUN_APP_WAIT=inf: a broken version never takes a connection); a log podman can read back for `up`.
 */
export function quadletUnit(c: SiteConfig, l: Layout, u: UnitInputs, role: "service" | "standby" = "service"): string {
  const spec = containerSpec(c, l, u);
  const sockets = [l.socketUnits.https, l.socketUnits.http].join(" ");
  return [
    "# Managed by flagun-rosupod (pulumi). Local edits are overwritten by the next `pulumi up`.",
    "[Unit]",
    role === "service"
      ? `Description=flagun-rosupod web service ${c.serviceName} (nginx -> gunicorn -> Flask)`
      : `Description=flagun-rosupod ${c.serviceName}: holds the sockets while ${l.unitName} restarts`,
    `Requires=${sockets}`,
    `After=${sockets}`,
    // A version that cannot start must not hold the site's sockets: once systemd stops restarting it (a
    // crash loop: START_LIMIT.burst starts within START_LIMIT.intervalS), the socket units fail with it and
    // close the ports, so clients are refused at once instead of queueing for nothing, and the journal says
    // "Start request repeated too quickly". systemd's default (5 in 10 s) never trips when a start alone takes
    // seconds. Each deploy resets the count (deploy.sh: reset-failed), as an operator's fix would.
    ...(role === "service" ? [`StartLimitIntervalSec=${START_LIMIT.intervalS}`, `StartLimitBurst=${START_LIMIT.burst}`] : []),
    "",
    "[Container]",
    `ContainerName=${role === "service" ? l.containerName : l.standbyName}`,
    `Image=${u.imageRef}`,
    `UserNS=${spec.userns}`,
    `User=${spec.user}`,
    ...spec.volumes.map((v) => `Volume=${v}`),
    ...spec.secrets.map((s) => `Secret=${s}`),
    ...spec.env.map((e) => `Environment=${e}`),
    ...(role === "standby" ? ["Environment=FLAGUN_APP_WAIT=inf", "LogDriver=k8s-file"] : []),
    "ReadOnly=true",
    "NoNewPrivileges=true",
    "DropCapability=ALL",
    // The image's HEALTHCHECK (flagun-health: healthPath through nginx, healthy below 500) is the check;
    // a failing container is killed and systemd restarts it. The limits are for a loaded host, not a fast
    // one: each run is a `podman exec` plus a Python start and a TLS handshake, and while an image build
    // and a new version's containers start beside it, one run took 68 s on the emulated test host (bench)
    // and three failed runs in a row killed a container that was serving every request. Only
    // five failures in a row (2.5 minutes at least) mean the app is down. HealthCmd repeats the image's
    // command because Podman ignores the other Health* keys without it (podman#21476: the image's 5 s
    // timeout and 3 retries applied, and killed the serving container during a deploy).
    "HealthCmd=/usr/local/bin/flagun-health",
    "HealthInterval=30s",
    "HealthTimeout=90s",
    "HealthRetries=5",
    "HealthStartPeriod=60s",
    "HealthOnFailure=kill",
    // podman's SIGKILL comes after flagun-supervise's own stop budget (25 s: nginx drains, then gunicorn).
    "PodmanArgs=--stop-timeout=30",
    "",
    "[Service]",
    // Both units inherit the listening sockets (systemd passes them to every service that names them).
    `Sockets=${sockets}`,
    ...(role === "service" ? ["Restart=on-failure", "RestartSec=2"] : ["Restart=no"]),
    "TimeoutStartSec=300",
    "TimeoutStopSec=60",
    ...(role === "service" ? ["", "[Install]", "WantedBy=default.target"] : []),
    "",
  ].join("\n");
}

/**
 * A user socket unit that owns one public port (IPv4, all addresses) for the life of the site: nginx in
 * whichever container is running accepts on it. A connection while no container runs starts the service.
 */
export function socketUnit(c: SiteConfig, l: Layout, which: "https" | "http"): string {
  // The listening port only, not the public one: moving 8443 to 443 (redirected here) keeps this unit, so
  // its socket, byte for byte (a changed socket unit is a switch with a gap).
  const port = listenPort(which === "https" ? c.httpsPort : c.httpPort);
  return [
    "# Managed by flagun-rosupod (pulumi). Local edits are overwritten by the next `pulumi up`.",
    "[Unit]",
    `Description=flagun-rosupod ${c.serviceName}: ${which} port ${port}`,
    "",
    "[Socket]",
    `ListenStream=0.0.0.0:${port}`,
    `Service=${l.unitName}`,
    "Backlog=4096",
    "",
    "[Install]",
    "WantedBy=sockets.target",
    "",
  ].join("\n");
}

/** Log rotation: a user timer on the host runs logrotate inside the container (config from the config dir). */
export function logrotateService(l: Layout): string {
  return [
    "# Managed by flagun-rosupod (pulumi).",
    "[Unit]",
    `Description=Rotate the logs of ${l.containerName}`,
    `Requisite=${l.unitName}`,
    `After=${l.unitName}`,
    "",
    "[Service]",
    "Type=oneshot",
    `ExecStart=/usr/bin/podman exec ${l.containerName} logrotate -s /var/log/flagun/.logrotate.state /etc/flagun/logrotate.conf`,
    "",
  ].join("\n");
}

export function logrotateTimer(l: Layout): string {
  return [
    "# Managed by flagun-rosupod (pulumi).",
    "[Unit]",
    `Description=Daily log rotation for ${l.containerName}`,
    "",
    "[Timer]",
    "OnCalendar=daily",
    "Persistent=true",
    "RandomizedDelaySec=5min",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}
