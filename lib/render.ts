// Pure text rendering: the config templates shipped in config/, the Quadlet unit and the logrotate timer.
import { SiteConfig } from "./config";
import { Layout } from "./layout";
import { CONTAINER_UID } from "./commands/podman";
import { q } from "./shell";

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
    HTTPS_PUBLIC_PORT: c.httpsPort,
    SERVER_NAMES: serverNames.length > 0 ? serverNames.join(" ") : "_",
    WORKERS: c.workers,
    THREADS: c.threads,
    TIMEOUT: c.timeoutSeconds,
    LOG_RETENTION_DAYS: c.logRetentionDays,
    CLIENT_MAX_BODY_SIZE: c.clientMaxBodySize,
  };
}

/** Ports inside the container (fixed by the image); the host ports are configuration. */
export const CONTAINER_HTTPS_PORT = 8443;
export const CONTAINER_HTTP_PORT = 8088;

/** Where things are inside the container (fixed by the image). */
export const APP_MOUNT = "/srv/app";
/** Flask's instance folder for an app module or package at the app root (Flask's own default). */
export const INSTANCE_MOUNT = `${APP_MOUNT}/instance`;
/** One file per appSecrets entry; flagun-supervise exports each as an environment variable. */
export const ENV_SECRETS_DIR = "/run/secrets/env";
/** The app settings (module, health path, appEnv) inside the container: the config dir is /etc/flagun. */
export const APP_SETTINGS_FILE = "app.json";

export interface UnitInputs {
  imageRef: string;
  /** Podman secret name -> id: a new secret (rotation) changes the unit and so restarts it. */
  secretIds: Record<string, string>;
  /** Hash of the app settings file: a new module, environment or health path restarts the container. */
  settingsHash: string;
}

/**
 * What every container of the site gets, the service's and the one-off ones alike: mounts (the code
 * read-only, the instance folder read-write over it), secrets as files, and the hardening.
 */
export function containerSpec(c: SiteConfig, l: Layout) {
  const owner = `uid=${CONTAINER_UID},gid=${CONTAINER_UID},mode=0400`;
  return {
    userns: `keep-id:uid=${CONTAINER_UID},gid=${CONTAINER_UID}`,
    user: `${CONTAINER_UID}:${CONTAINER_UID}`,
    volumes: [
      `${l.appDir}:${APP_MOUNT}:ro,Z`,
      `${l.instanceDir}:${INSTANCE_MOUNT}:Z`,
      `${l.configDir}:/etc/flagun:ro,Z`,
      `${l.logDir}:/var/log/flagun:Z`,
    ],
    secrets: [
      `${l.secretName},type=mount,target=/run/secrets/app_secret_key,${owner}`,
      ...c.appSecretNames.map((n) => `${l.envSecretName(n)},type=mount,target=${ENV_SECRETS_DIR}/${n},${owner}`),
    ],
    env: ["SECRET_KEY_FILE=/run/secrets/app_secret_key"],
  };
}

/** The app settings file flagun-supervise and flagun-health read (JSON: any text is safe in it). */
export function appSettings(c: SiteConfig): string {
  return `${JSON.stringify({ module: c.appModule, healthPath: c.healthPath, env: { FLASK_APP: c.appModule, ...c.appEnv } }, null, 2)}\n`;
}

/**
 * The Quadlet unit. Quadlet replaces the runbook's deprecated `podman generate systemd`; the generated
 * service restarts on failure and is wanted by default.target, which linger starts at boot.
 */
export function quadletUnit(c: SiteConfig, l: Layout, u: UnitInputs): string {
  const spec = containerSpec(c, l);
  return [
    "# Managed by flagun-rosupod (pulumi). Local edits are overwritten by the next `pulumi up`.",
    ...Object.entries(u.secretIds).map(([name, id]) => `# secret ${name}: ${id}`),
    `# app settings: ${u.settingsHash}`,
    "[Unit]",
    `Description=flagun-rosupod web service ${c.serviceName} (nginx -> gunicorn -> Flask)`,
    "",
    "[Container]",
    `ContainerName=${l.containerName}`,
    `Image=${u.imageRef}`,
    `UserNS=${spec.userns}`,
    `User=${spec.user}`,
    `PublishPort=${c.httpsPort}:${CONTAINER_HTTPS_PORT}`,
    `PublishPort=${c.httpPort}:${CONTAINER_HTTP_PORT}`,
    ...spec.volumes.map((v) => `Volume=${v}`),
    ...spec.secrets.map((s) => `Secret=${s}`),
    ...spec.env.map((e) => `Environment=${e}`),
    "ReadOnly=true",
    "NoNewPrivileges=true",
    "DropCapability=ALL",
    // The image's HEALTHCHECK (flagun-health: healthPath through nginx, healthy below 500) is the check;
    // a failing container is killed and systemd restarts it.
    "HealthInterval=30s",
    "HealthRetries=3",
    "HealthStartPeriod=30s",
    "HealthOnFailure=kill",
    "PodmanArgs=--stop-timeout=10",
    "",
    "[Service]",
    "Restart=on-failure",
    "RestartSec=2",
    "TimeoutStartSec=300",
    "TimeoutStopSec=30",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

/** `podman run` of a fresh, throw-away container of `imageRef` with the service's mounts, secrets and hardening. */
export function oneOffRun(c: SiteConfig, l: Layout, imageRef: string, attach = ""): string {
  const spec = containerSpec(c, l);
  return [
    "podman run --rm",
    attach,
    `--userns ${q(spec.userns)} --user ${q(spec.user)} --read-only --security-opt no-new-privileges --cap-drop all`,
    ...spec.volumes.map((v) => `-v ${q(v)}`),
    ...spec.secrets.map((s) => `--secret ${q(s)}`),
    ...spec.env.map((e) => `-e ${q(e)}`),
    q(imageRef),
  ].filter(Boolean).join(" ");
}

/** The operators' one-off command on the host: the arguments are the command, run without a shell. */
export function oneOffScript(c: SiteConfig, l: Layout, imageRef: string): string {
  return [
    "#!/bin/sh",
    `# Managed by flagun-rosupod (pulumi). Runs COMMAND in a fresh container of the current version of ${c.serviceName},`,
    "# with the app, its instance folder, settings, environment and secrets, as the service has them.",
    "set -eu",
    `[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]   e.g. flask shell" >&2; exit 2; }`,
    "tty=; if [ -t 0 ] && [ -t 1 ]; then tty=--tty; fi",
    `exec ${oneOffRun(c, l, imageRef, "--interactive $tty")} "$@"`,
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
