// A small on-disk cache outside the repo ($FLAGUN_CACHE, default ~/.cache/flagun-rosupod, as scripts/lib.sh),
// for work every `pulumi up` would otherwise redo on unchanged input: transpiling the program's TypeScript
// (lib/tsTranspiler.cjs) and hashing large local files (lib/hash.ts cachedFileHash). Plain CommonJS, not
// TypeScript: the transpiler loads it before any TypeScript can run.
//
// One entry per (namespace, name), holding the key it was computed for: a lookup with another key is a
// miss, and the next store replaces the entry, so the cache holds one entry per source file or hashed path
// however often they change. Anything unreadable is a miss, and a store that fails is skipped: the caller
// then just computes again, never gets a wrong value.
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function cacheRoot() {
  return process.env.FLAGUN_CACHE || path.join(os.homedir(), ".cache", "flagun-rosupod");
}

function entryPath(namespace, name) {
  return path.join(cacheRoot(), namespace, crypto.createHash("sha256").update(name).digest("hex"));
}

/** The value stored for (namespace, name) under exactly `key`, or undefined. */
function readEntry(namespace, name, key) {
  try {
    const entry = JSON.parse(fs.readFileSync(entryPath(namespace, name), "utf8"));
    return entry.key === key ? entry.value : undefined;
  } catch {
    return undefined;
  }
}

/** Stores `value` (JSON) for (namespace, name) under `key`; written whole or not at all (rename). */
function writeEntry(namespace, name, key, value) {
  const file = entryPath(namespace, name);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify({ key, value }));
    fs.renameSync(tmp, file);
  } catch {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // Nothing was written there either.
    }
  }
}

module.exports = { cacheRoot, readEntry, writeEntry };
