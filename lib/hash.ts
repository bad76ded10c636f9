// Content hashes that key uploads, image tags and reload triggers: same content, same hash, no work.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { INSTANCE_DIR } from "./commands/files";
import { SiteConfig } from "./config";

const IGNORED = new Set(["__pycache__", ".pytest_cache", ".git", "node_modules", ".venv"]);

/**
 * Every regular file under `root` (sorted, relative), skipping caches that must not trigger a deploy and
 * the top-level entries named in `skipTop` (content that is not deployed, like the app's `instance/`).
 */
export function listFiles(root: string, skipTop: string[] = []): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (IGNORED.has(e.name) || e.name.endsWith(".pyc") || (dir === root && skipTop.includes(e.name))) continue;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.isFile()) out.push(path.relative(root, full));
    }
  };
  walk(root);
  return out;
}

/** Hash of named parts (files, directories or literal strings), order-sensitive. */
export function hashParts(parts: { name: string; file?: string; dir?: string; skipTop?: string[]; text?: string }[]): string {
  const h = crypto.createHash("sha256");
  for (const part of parts) {
    h.update(`${part.name}\0`);
    if (part.text !== undefined) h.update(part.text);
    if (part.file !== undefined) h.update(fs.readFileSync(part.file));
    if (part.dir !== undefined) {
      for (const rel of listFiles(part.dir, part.skipTop)) {
        h.update(`${rel}\0`);
        h.update(fs.readFileSync(path.join(part.dir, rel)));
        h.update("\0");
      }
    }
    h.update("\0");
  }
  return h.digest("hex");
}

export function short(hash: string): string {
  return hash.slice(0, 12);
}

/** The app's deployed content: everything in appDir but caches and its local `instance/` (never uploaded). */
export function appHash(appDir: string): string {
  return hashParts([{ name: "app", dir: appDir, skipTop: [INSTANCE_DIR] }]);
}

/**
 * Everything this program sends to a site's hosts, from this machine: the validated config (without the
 * host list: adding a host changes nothing on the others), the app (its appHash), and the repo's image and config inputs.
 */
export function deployFingerprint(site: SiteConfig, repoDir: string, appContentHash: string): string {
  return hashParts([
    { name: "config", text: JSON.stringify({ ...site, hosts: undefined }) },
    { name: "app", text: appContentHash },
    { name: "Containerfile", file: path.join(repoDir, "Containerfile") },
    { name: "container", dir: path.join(repoDir, "container") },
    { name: "config-files", dir: path.join(repoDir, "config") },
  ]);
}
