// Content hashes that key uploads, image tags and reload triggers: same content, same hash, no work.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SiteConfig } from "./config";
import { projectRoot } from "./repo";

/** lib/diskCache.cjs: plain CommonJS next to the sources (the transpiler uses it too), found from dist/ as well. */
const diskCache: {
  readEntry(namespace: string, name: string, key: string): unknown;
  writeEntry(namespace: string, name: string, key: string, value: unknown): void;
} = require(path.join(projectRoot(__dirname), "lib", "diskCache.cjs"));

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

/** Feeds a file's bytes to `h` in 1 MiB reads: a large file (the base image archive) never becomes one Buffer. */
function updateWithFile(h: crypto.Hash, file: string): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, "r");
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/** Hash of named parts (files, directories or literal strings), order-sensitive. */
export function hashParts(parts: { name: string; file?: string; dir?: string; skipTop?: string[]; text?: string }[]): string {
  const h = crypto.createHash("sha256");
  for (const part of parts) {
    h.update(`${part.name}\0`);
    if (part.text !== undefined) h.update(part.text);
    if (part.file !== undefined) updateWithFile(h, part.file);
    if (part.dir !== undefined) {
      for (const rel of listFiles(part.dir, part.skipTop)) {
        h.update(`${rel}\0`);
        updateWithFile(h, path.join(part.dir, rel));
        h.update("\0");
      }
    }
    h.update("\0");
  }
  return h.digest("hex");
}

/** What identifies a file's content without reading it: any write changes its ctime, which no tool can set back. */
function fileIdentity(file: string): string {
  const s = fs.statSync(file, { bigint: true });
  return [s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(":");
}

/**
 * `compute(file)` (a hash of the file's content; `kind` names which), kept in the disk cache under the file's
 * identity: an unchanged large file (the 116 MiB base image archive: 0.2 s a hash) is not read again on the
 * next `pulumi up`, and a changed one, a new identity, is hashed anew.
 */
export function cachedFileHash(kind: string, file: string, compute: (file: string) => string): string {
  const name = `${kind}\0${path.resolve(file)}`;
  const identity = fileIdentity(file);
  const cached = diskCache.readEntry("file-hash", name, identity);
  if (typeof cached === "string") return cached;
  const hash = compute(file);
  // Written to while it was read, the hash may mix two versions: used this once, never kept.
  if (fileIdentity(file) === identity) diskCache.writeEntry("file-hash", name, identity, hash);
  return hash;
}

/** sha256 (hex) of a file's bytes: the hash the Pulumi engine keeps for a FileAsset. */
export function fileSha256(file: string): string {
  return cachedFileHash("sha256", file, (f) => {
    const h = crypto.createHash("sha256");
    updateWithFile(h, f);
    return h.digest("hex");
  });
}

export function short(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * The version of a secret's value in its Podman name: an HMAC under the stack's own random key, so a new value
 * is a new secret beside the old one, the same value the same name, and the name reveals nothing of the value
 * (a plain hash of a short password could be guessed offline from `podman secret ls`).
 */
export function secretVersion(key: string, value: string): string {
  return short(crypto.createHmac("sha256", key).update(value).digest("hex"));
}

/** The app's top-level `instance/` (Flask's instance folder): a mount point of the data, never code. */
export const INSTANCE_DIR = "instance";

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
