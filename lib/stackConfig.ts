// Read the project's stack config as raw values for validation. Secret values are replaced by a
// marker: validation only needs to know they are set, and must never echo them.
import * as pulumi from "@pulumi/pulumi";

export const SECRET_KEYS = ["sshPrivateKey", "tlsPrivateKeyPem"];

export function readStackConfig(project: string): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const prefix = `${project}:`;
  for (const [k, v] of Object.entries(pulumi.runtime.allConfig())) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    if (SECRET_KEYS.includes(key)) {
      raw[key] = "<secret>";
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
