// The caches that spare a no-op `pulumi up` repeated work (docs/benchmarks.md, converge): the disk cache
// (lib/diskCache.cjs), the cached transpiler ts-node runs the program with (lib/tsTranspiler.cjs) and the
// cached file hashes (lib/hash.ts).
// A cached value must never outlive the input it was computed from.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as ts from "typescript";
import { cachedFileHash, fileSha256, hashParts } from "../../lib/hash";
import { projectRoot } from "../../lib/repo";
import { hashedFileAsset } from "../../components/upload";

// Every cache of this process in a temp dir (diskCache reads FLAGUN_CACHE on each call).
process.env.FLAGUN_CACHE = fs.mkdtempSync(path.join(os.tmpdir(), "flagun-cache-test-"));
const lib = (f: string) => require(path.join(projectRoot(__dirname), "lib", f));
const diskCache = lib("diskCache.cjs");
const tmpFile = (text: string) => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hashed-")), "file");
  fs.writeFileSync(f, text);
  return f;
};

test("diskCache: a value is returned only for the key it was stored under; one entry per name", () => {
  assert.equal(diskCache.readEntry("t", "a", "k1"), undefined);
  diskCache.writeEntry("t", "a", "k1", { v: 1 });
  assert.deepEqual(diskCache.readEntry("t", "a", "k1"), { v: 1 });
  assert.equal(diskCache.readEntry("t", "a", "k2"), undefined);
  assert.equal(diskCache.readEntry("t", "b", "k1"), undefined);
  diskCache.writeEntry("t", "a", "k2", { v: 2 });
  assert.equal(diskCache.readEntry("t", "a", "k1"), undefined);
  assert.deepEqual(diskCache.readEntry("t", "a", "k2"), { v: 2 });
  assert.equal(fs.readdirSync(path.join(process.env.FLAGUN_CACHE!, "t")).length, 1);
});

test("diskCache: an unreadable entry is a miss, an unwritable cache is skipped", () => {
  diskCache.writeEntry("broken", "a", "k", "v");
  const dir = path.join(process.env.FLAGUN_CACHE!, "broken");
  for (const f of fs.readdirSync(dir)) fs.writeFileSync(path.join(dir, f), "{not json");
  assert.equal(diskCache.readEntry("broken", "a", "k"), undefined);
  const saved = process.env.FLAGUN_CACHE;
  process.env.FLAGUN_CACHE = tmpFile("a file, not a directory");
  try {
    diskCache.writeEntry("t", "x", "k", "v");
    assert.equal(diskCache.readEntry("t", "x", "k"), undefined);
  } finally {
    process.env.FLAGUN_CACHE = saved;
  }
});

const OPTIONS = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true, sourceMap: true, strict: true };
const transpiler = (options: ts.CompilerOptions = OPTIONS, nodeModuleEmitKind?: string) =>
  lib("tsTranspiler.cjs").create({ service: { config: { options }, options: {}, projectLocalResolveHelper: (m: string) => require.resolve(m) }, nodeModuleEmitKind });
const plain = (code: string, fileName: string, options: ts.CompilerOptions = OPTIONS) => {
  const out = ts.transpileModule(code, { fileName, compilerOptions: options, reportDiagnostics: true });
  return { outputText: out.outputText, sourceMapText: out.sourceMapText };
};

test("tsTranspiler: TypeScript's transpileModule output, served from the cache while source and options are unchanged", () => {
  const file = "/project/components/thing.ts";
  const code = `import * as fs from "fs";\nexport const n: number = fs.existsSync("/") ? 1 : 2;\n`;
  assert.deepEqual(transpiler().transpile(code, { fileName: file }), plain(code, file));
  // A second process (a new transpiler) gets the stored output: it is what the cache holds, not a new emit.
  const dir = path.join(process.env.FLAGUN_CACHE!, "ts-transpile");
  const [entry] = fs.readdirSync(dir).filter((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")).value.outputText.includes("existsSync"));
  const stored = JSON.parse(fs.readFileSync(path.join(dir, entry), "utf8"));
  stored.value.outputText += "// from the cache\n";
  fs.writeFileSync(path.join(dir, entry), JSON.stringify(stored));
  assert.match(transpiler().transpile(code, { fileName: file }).outputText, /from the cache/);
  // Changed source, changed options: transpiled again, never the stale output.
  const changed = code.replace("? 1 : 2", "? 3 : 4");
  assert.deepEqual(transpiler().transpile(changed, { fileName: file }), plain(changed, file));
  const es = { ...OPTIONS, module: ts.ModuleKind.ES2022 };
  assert.deepEqual(transpiler(es).transpile(changed, { fileName: file }), plain(changed, file, es));
});

test("tsTranspiler: a syntax error is reported on every run (never cached); ES module emit is refused", () => {
  const file = "/project/broken.ts";
  const code = "export const x = ;\n";
  for (let i = 0; i < 2; i++) assert.ok(transpiler().transpile(code, { fileName: file }).diagnostics?.length);
  assert.throws(() => transpiler(OPTIONS, "nodeesm").transpile("export {};\n", { fileName: "/project/m.ts" }), /CommonJS only/);
});

test("cachedFileHash: an unchanged file is not read again; any write is seen, even with size and mtime kept", () => {
  const file = tmpFile("version one");
  // Whole seconds, so that setting it back below restores the mtime exactly (to the nanosecond).
  const mtime = 1_700_000_000;
  fs.utimesSync(file, mtime, mtime);
  let reads = 0;
  const hash = (f: string) => {
    reads++;
    return crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
  };
  const first = cachedFileHash("test", file, hash);
  assert.equal(cachedFileHash("test", file, hash), first);
  assert.equal(reads, 1);
  // Same size, same mtime (as `touch -r` or an archive extraction leaves them): the ctime still moves.
  fs.writeFileSync(file, "version two");
  fs.utimesSync(file, mtime, mtime);
  assert.equal(fs.statSync(file, { bigint: true }).mtimeNs, BigInt(mtime) * 1_000_000_000n);
  const second = cachedFileHash("test", file, hash);
  assert.equal(reads, 2);
  assert.notEqual(second, first);
  assert.equal(second, crypto.createHash("sha256").update("version two").digest("hex"));
  // Another kind of hash of the same file is its own entry.
  assert.equal(cachedFileHash("other", file, () => "x"), "x");
  assert.equal(cachedFileHash("test", file, hash), second);
  assert.equal(reads, 2);
});

test("hashParts: a file part hashes its bytes read in chunks, as one read would (a file larger than one chunk)", () => {
  const bytes = crypto.randomBytes((1 << 20) * 2 + 12345);
  const file = tmpFile("");
  fs.writeFileSync(file, bytes);
  const expected = crypto.createHash("sha256").update("base\0").update(bytes).update("\0").digest("hex");
  assert.equal(hashParts([{ name: "base", file }]), expected);
  assert.equal(fileSha256(file), crypto.createHash("sha256").update(bytes).digest("hex"));
});

test("hashedFileAsset: a FileAsset with the engine's hash of it (sha256 of the bytes)", async () => {
  const file = tmpFile("archive bytes");
  const sha = crypto.createHash("sha256").update("archive bytes").digest("hex");
  assert.equal(fileSha256(file), sha);
  const asset = hashedFileAsset(file);
  assert.ok(asset instanceof pulumi.asset.FileAsset);
  assert.equal(await asset.path, file);
  assert.equal((asset as unknown as { hash: string }).hash, sha);
});
