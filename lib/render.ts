// Pure text rendering: the config templates shipped in config/, the Quadlet unit and the logrotate timer.
import { SiteConfig } from "./config";
import { Layout } from "./layout";
import { CONTAINER_UID } from "./commands/podman";

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

export interface UnitInputs {
  imageRef: string;
  /** Id of the Podman secret: a new secret (rotation) changes the unit and so restarts it. */
  secretId: string;
}

/**
 * The Quadlet unit. Quadlet replaces the runbook's deprecated `podman generate systemd`; the generated
 * service restarts on failure and is wanted by default.target, which linger starts at boot.
 */
export function quadletUnit(c: SiteConfig, l: Layout, u: UnitInputs): string {
  return [
    "# Managed by flagun-rosupod (pulumi). Local edits are overwritten by the next `pulumi up`.",
    `# secret: ${u.secretId}`,
    "[Unit]",
    `Description=flagun-rosupod web service ${c.serviceName} (nginx -> gunicorn -> Flask)`,
    "",
    "[Container]",
    `ContainerName=${l.containerName}`,
    `Image=${u.imageRef}`,
    `UserNS=keep-id:uid=${CONTAINER_UID},gid=${CONTAINER_UID}`,
    `User=${CONTAINER_UID}:${CONTAINER_UID}`,
    `PublishPort=${c.httpsPort}:${CONTAINER_HTTPS_PORT}`,
    `PublishPort=${c.httpPort}:${CONTAINER_HTTP_PORT}`,
    `Volume=${l.appDir}:/srv/app:ro,Z`,
    `Volume=${l.configDir}:/etc/flagun:ro,Z`,
    `Volume=${l.logDir}:/var/log/flagun:Z`,
    `Secret=${l.secretName},type=mount,target=/run/secrets/app_secret_key,uid=${CONTAINER_UID},gid=${CONTAINER_UID},mode=0400`,
    `Environment=APP_MODULE=${c.appModule}`,
    "Environment=SECRET_KEY_FILE=/run/secrets/app_secret_key",
    "ReadOnly=true",
    "NoNewPrivileges=true",
    "DropCapability=ALL",
    // The image's HEALTHCHECK (https through nginx) is the check; a failing container is killed and
    // systemd restarts it.
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
