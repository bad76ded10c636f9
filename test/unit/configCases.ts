// Shared by the config unit tests: a valid host, and parseConfig with everything else defaulted.
import { ConfigError, SiteConfig, parseConfig } from "../../lib/config";

export const HOST = { name: "web1", address: "127.0.0.1", port: 2222, user: "deploy", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOeZ" };
/** Local paths exist unless their name says "missing". */
export const exists = (p: string) => !p.includes("missing");
export const parse = (raw: Record<string, unknown>): SiteConfig => parseConfig({ hosts: [HOST], ...raw }, "/repo", exists);

/** The problems parseConfig reports for `raw` (none: an empty list). */
export function problems(raw: Record<string, unknown>): string[] {
  try {
    parse(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}
