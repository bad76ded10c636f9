// The README cannot drift from the code: its config reference names exactly the keys the program
// accepts, and the scripts it tells users to run exist.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { KNOWN_KEYS } from "../../lib/config";
import { projectRoot } from "../../lib/repo";

const root = projectRoot(__dirname);
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");

test("README config reference lists exactly the accepted keys", () => {
  const section = readme.slice(readme.indexOf("## Configuration reference"), readme.indexOf("## Architecture"));
  const documented = new Set([...section.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Za-z]+)`/g)].map((x) => x[1])));
  documented.delete("key");
  for (const k of KNOWN_KEYS) assert.ok(documented.has(k), `README does not document ${k}`);
  for (const k of documented) assert.ok(KNOWN_KEYS.includes(k), `README documents unknown key ${k}`);
});

test("the npm scripts the README names exist", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  for (const [, name] of readme.matchAll(/npm run ([a-z0-9:]+)/g)) assert.ok(pkg.scripts[name], `npm run ${name}`);
  assert.ok(pkg.scripts.test);
});

test("every example stack config names only accepted keys", () => {
  for (const f of fs.readdirSync(path.join(root, "examples")).filter((f) => f.endsWith(".yaml"))) {
    const text = fs.readFileSync(path.join(root, "examples", f), "utf8");
    for (const [, key] of text.matchAll(/^ {2}flagun-rosupod:([A-Za-z]+):/gm)) assert.ok(KNOWN_KEYS.includes(key), `${f}: ${key}`);
  }
});
