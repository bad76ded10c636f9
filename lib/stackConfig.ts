// Read the project's stack config as raw values for validation. Secret values are replaced by a
// marker: validation only needs to know they are set, and must never echo them.
import * as pulumi from "@pulumi/pulumi";
import { SECRET_MARKER } from "./config";

export const SECRET_KEYS = ["sshPrivateKey", "tlsPrivateKeyPem", "appSecrets"];

/**
 * Whether the key was set with --secret, from the engine's list of secret keys (kept by the SDK among the
 * config values). An engine that sends no list cannot tell: then the key counts as secret.
 */
function isSecretKey(fullKey: string): boolean {
  const { getStore } = require("@pulumi/pulumi/runtime/state") as { getStore: () => { config: Record<string, string | undefined> } };
  const list = getStore().config["PULUMI_CONFIG_SECRET_KEYS"];
  if (!list) return true;
  try {
    const keys: unknown = JSON.parse(list);
    return !Array.isArray(keys) || keys.includes(fullKey);
  } catch {
    return true;
  }
}

export function readStackConfig(project: string): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const prefix = `${project}:`;
  for (const [k, v] of Object.entries(pulumi.runtime.allConfig())) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    if (key === "appSecrets") {
      raw[key] = maskSecretMap(parseJsonish(v), isSecretKey(k));
      continue;
    }
    if (SECRET_KEYS.includes(key)) {
      raw[key] = SECRET_MARKER;
      continue;
    }
    raw[key] = parseJsonish(v);
  }
  return raw;
}

/** The plain value of one secret key, for a validation that must read it (and never prints it). */
export function readSecret(project: string, key: string): string | undefined {
  return pulumi.runtime.allConfig()[`${project}:${key}`];
}

/**
 * appSecrets: its names are validated, its values never leave Pulumi's secret handling. Set as a secret,
 * every value becomes the marker; set in clear, a non-marker text is kept per name so validation refuses
 * it (naming the key, never echoing the value).
 */
export function maskSecretMap(v: unknown, isSecret: boolean): unknown {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return isSecret ? SECRET_MARKER : v;
  return Object.fromEntries(Object.keys(v).map((name) => [name, isSecret ? SECRET_MARKER : "<clear text>"]));
}

/** Objects and lists arrive JSON-encoded; scalars stay strings (the validator converts them). */
function parseJsonish(v: string): unknown {
  if (/^\s*[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}
