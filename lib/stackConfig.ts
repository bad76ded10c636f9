// Read the project's stack config as raw values for validation. Secret values are replaced by a
// marker: validation only needs to know they are set, and must never echo them.
import * as pulumi from "@pulumi/pulumi";
import { SECRET_KEYS, SECRET_MARKER } from "./config";

/**
 * Whether the key was set with --secret. The SDK's typed API reads values only; this is its own reader
 * of the engine's list of secret keys, on the public `pulumi.runtime` namespace but left out of its
 * typings. (Pulumi.yaml's `secret: true` cannot replace it: the CLI then requires the key, and the
 * secret keys are optional.) An SDK without it cannot tell: then the key counts as secret.
 */
function isSecretKey(fullKey: string): boolean {
  const { isConfigSecret } = pulumi.runtime as { isConfigSecret?: (k: string) => boolean };
  return isConfigSecret ? isConfigSecret(fullKey) : true;
}

export function readStackConfig(project: string): Record<string, unknown> {
  const prefix = `${project}:`;
  const values = Object.entries(pulumi.runtime.allConfig()).filter(([k]) => k.startsWith(prefix));
  return rawConfig(Object.fromEntries(values.map(([k, v]) => [k.slice(prefix.length), v])), (key) => isSecretKey(`${prefix}${key}`));
}

/** The stack's config values (by key, as `pulumi config` stores them) as raw values for validation. */
export function rawConfig(values: Record<string, string>, isSecret: (key: string) => boolean): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(values)) {
    if (key === "appSecrets") raw[key] = maskSecretMap(parseJsonish(v), isSecret(key));
    else if (SECRET_KEYS.includes(key)) raw[key] = SECRET_MARKER;
    else raw[key] = parseJsonish(v);
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
